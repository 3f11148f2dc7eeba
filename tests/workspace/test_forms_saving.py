"""forms.saving: a refusal (409/422) stays on the page beside its field; a 403 or 404 is the
page's answer and goes on to the error handler, never shown as a remark on a form."""

from __future__ import annotations

import pytest
from flask import Flask
from flask_wtf import FlaskForm
from wtforms import StringField

from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.web.site import forms


class _Form(FlaskForm):
    class Meta:
        csrf = False

    code = StringField()


def test_a_refusal_goes_beside_its_field_and_nothing_is_saved(app: Flask) -> None:
    with app.test_request_context(method="POST"):
        form = _Form()
        with forms.saving(form, field="code") as change:
            raise Invalid(errors={"code": ["Letters and digits only."]})
        assert not change.saved and form.code.errors == ["Letters and digits only."]

        form = _Form()
        with forms.saving(form, field="code") as change:
            raise Conflict("Someone saved first.")
        assert not change.saved and form.code.errors == ["Someone saved first."]


@pytest.mark.parametrize("error", [NotFound("No such participant."), Forbidden("Not yours.")])
def test_not_found_and_forbidden_are_not_form_remarks(app: Flask, error: Exception) -> None:
    with app.test_request_context(method="POST"):
        form = _Form()
        with pytest.raises(type(error)), forms.saving(form, field="code"):
            raise error
        assert not form.code.errors
