"""One error shape on every failure, a valid OpenAPI document, security headers everywhere."""

import pytest
from openapi_spec_validator import validate

from app import create_app
from app.errors import CATALOGUE, ErrorCode
from app.studies.models import Role
from tests.factories import csrf_token, make_staff, make_study, sign_in


def assert_problem(response, status, code):
    assert response.status_code == status
    assert response.is_json
    body = response.get_json()
    assert set(body) == {"code", "status", "message", "errors"}
    assert body["status"] == status and body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    return body


def test_openapi_document_is_valid_and_lists_paths_with_error_cases(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    validate(spec)
    assert "/api/v1/auth/login" in spec["paths"]
    login = spec["paths"]["/api/v1/auth/login"]["post"]["responses"]
    assert {"200", "401", "403", "422", "429"} <= set(login)
    error = spec["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"code", "status", "message", "errors"}
    assert set(error["properties"]["code"]["enum"]) == {str(c) for c in ErrorCode}


def test_400_for_a_body_that_is_not_json(client):
    response = client.post(
        "/api/v1/auth/login",
        data="{not json",
        content_type="application/json",
        headers={"X-CSRFToken": csrf_token(client)},
    )
    assert_problem(response, 400, "bad_request")


def test_401_when_not_signed_in(client):
    assert_problem(client.get("/api/v1/studies/"), 401, "unauthenticated")


def test_403_when_the_role_does_not_allow_it(client, db_session):
    study = make_study(db_session)
    make_staff(db_session, study=study, role=Role.DATA_MANAGER)
    signed = sign_in(client, "ana@example.org")
    response = signed.post(f"/api/v1/studies/{study.slug}/sites", json={"code": "Z", "name": "Z"})
    assert_problem(response, 403, "forbidden")


def test_404_for_unknown_paths_and_studies(client, db_session):
    assert_problem(client.get("/api/v1/nothing-here"), 404, "not_found")
    make_staff(db_session)
    signed = sign_in(client, "ana@example.org")
    assert_problem(signed.client.get("/api/v1/studies/unknown"), 404, "not_found")


def test_409_for_a_duplicate_site_and_nothing_changes(client, db_session):
    study = make_study(db_session)
    make_staff(db_session, study=study, role=Role.ADMIN)
    signed = sign_in(client, "ana@example.org")
    body = assert_problem(
        signed.post(f"/api/v1/studies/{study.slug}/sites", json={"code": "A", "name": "Again"}),
        409,
        "conflict",
    )
    assert "already has a site with code 'A'" in body["message"]
    detail = signed.client.get(f"/api/v1/studies/{study.slug}").get_json()
    assert [s["name"] for s in detail["sites"]] == ["Site A", "Site B"]


def test_422_names_the_missing_and_unknown_fields(client):
    response = client.post(
        "/api/v1/auth/login",
        json={"email": "ana@example.org", "pasword": "typo"},
        headers={"X-CSRFToken": csrf_token(client)},
    )
    body = assert_problem(response, 422, "validation_failed")
    assert "password" in body["errors"]["json"]
    assert "pasword" in body["errors"]["json"]


def test_500_rolls_back_and_leaks_nothing(settings, db_session):
    app = create_app(settings)
    secret = "patient answered: 7"

    @app.get("/api/v1/boom")
    def boom():
        raise RuntimeError(secret)

    response = app.test_client().get("/api/v1/boom")
    body = assert_problem(response, 500, "internal_error")
    assert secret not in response.get_data(as_text=True)
    assert body["errors"] == {}


def test_html_pages_get_a_friendly_error_page(client):
    response = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Not found." in response.get_data(as_text=True)


def test_every_error_code_has_a_status_and_message_in_the_catalogue():
    assert set(CATALOGUE) == set(ErrorCode), "add new codes to app.errors.CATALOGUE"
    assert all(status >= 400 and message for status, message in CATALOGUE.values())


@pytest.mark.parametrize(
    "path", ["/healthz", "/api/v1/auth/csrf", "/staff/login", "/api/v1/nothing"]
)
def test_security_headers_on_every_response(client, path):
    headers = client.get(path).headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-store"


def test_hsts_only_outside_development(settings, client):
    from tests.conftest import make_settings

    assert "max-age" not in client.get("/healthz").headers.get("Strict-Transport-Security", "")
    production = make_settings(settings.database_url, settings.instance_path, env="production")
    headers = create_app(production).test_client().get("/healthz").headers
    assert headers["Strict-Transport-Security"].startswith("max-age=")


def test_readyz_checks_the_database(client, settings, tmp_path):
    from tests.conftest import make_settings

    assert client.get("/readyz").get_json() == {"status": "ready"}
    broken = make_settings("postgresql+psycopg://nobody@127.0.0.1:1/none", tmp_path)
    response = create_app(broken).test_client().get("/readyz")
    assert_problem(response, 503, "service_unavailable")
