"""The co-design domain modules are plain Python; only models and services touch the
database, and nothing in app/codesign imports Flask (the pages call the services)."""

from __future__ import annotations

from pathlib import Path

from tests.test_architecture import FRAMEWORK_AND_DATABASE, imported_modules

PACKAGE = Path(__file__).resolve().parents[2] / "app" / "codesign"
DATABASE_SIDE = {"models.py", "service.py"}


def test_domain_modules_import_no_framework_or_database():
    offenders = [
        f"{path.name}: {name}"
        for path in sorted(PACKAGE.glob("*.py"))
        if path.name not in DATABASE_SIDE
        for name in imported_modules(path)
        if any(name == bad or name.startswith(bad + ".") for bad in FRAMEWORK_AND_DATABASE)
        or name.startswith(("app.codesign.models", "app.codesign.service"))
    ]
    assert offenders == []


def test_nothing_in_the_package_imports_flask():
    offenders = [
        f"{path.name}: {name}"
        for path in sorted(PACKAGE.glob("*.py"))
        for name in imported_modules(path)
        if name == "flask" or name.startswith(("flask.", "flask_", "app.extensions"))
    ]
    assert offenders == []
