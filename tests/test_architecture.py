"""The brief's layering rule, checked once for every domain package: the instrument engine,
the scheduling maths, the delivery senders and the crypto module are plain Python -- no Flask,
no database -- and only app/crypto.py touches `cryptography` (tests/test_crypto.py checks that
across all of app/)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "app"
FRAMEWORK_AND_DATABASE = (
    "flask",
    "flask_sqlalchemy",
    "flask_smorest",
    "sqlalchemy",
    "app.extensions",
    "app.models",
    "app.db",
)

PURE = {
    "instruments": FRAMEWORK_AND_DATABASE,
    "interop": FRAMEWORK_AND_DATABASE,
    "scheduling": FRAMEWORK_AND_DATABASE,
    "delivery": (*FRAMEWORK_AND_DATABASE, "cryptography"),
    "crypto.py": FRAMEWORK_AND_DATABASE,
}


def imported_modules(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("package", sorted(PURE))
def test_domain_package_imports_no_framework_or_database(package: str) -> None:
    target = APP / package
    files = [target] if target.is_file() else sorted(target.rglob("*.py"))
    assert files, f"{package} has no Python files"
    offenders = [
        f"{path.relative_to(APP)}: {name}"
        for path in files
        for name in imported_modules(path)
        if any(name == bad or name.startswith(bad + ".") for bad in PURE[package])
    ]
    assert offenders == []


def test_the_checker_sees_both_import_forms(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import flask.json\nfrom sqlalchemy.orm import Session\n")
    assert imported_modules(sample) == ["flask.json", "sqlalchemy.orm"]
