"""Package rules: delivery is framework-free and leaves ``cryptography`` to app/crypto.py."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "app" / "delivery"
FORBIDDEN = ("flask", "sqlalchemy", "flask_sqlalchemy", "app.extensions", "cryptography")


def test_delivery_package_imports_no_framework_and_no_cryptography() -> None:
    offenders = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}: {name}"
                for name in names
                if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)
            ]
    assert offenders == []
