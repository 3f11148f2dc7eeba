"""Issue #12's rule for the workspace pages: views parse, call a service and render. No SQL
query and no audit call in app/web/site/; app.workspace does both, and imports no Flask."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.test_architecture import imported_modules

APP = Path(__file__).resolve().parents[2] / "app"
VIEWS = sorted((APP / "web" / "site").glob("*.py"))
SERVICES = sorted((APP / "workspace").glob("*.py"))
DATABASE_SESSIONS = {"db.session", "db.session()", "db_session()", "session", "session()"}
QUERY_CALLS = {"execute", "scalar", "scalars", "query", "get", "add", "delete", "flush"}


def forbidden_in_views(path: Path) -> list[str]:
    found = [
        f"imports {name}"
        for name in imported_modules(path)
        if name.startswith(("sqlalchemy", "app.audit", "app.models"))
    ]
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        # db.session.execute(...), session.scalars(...), audit.record(...): queries and audit.
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = ast.unparse(node.func.value)
            if node.func.attr in QUERY_CALLS and owner in DATABASE_SESSIONS:
                found.append(f"line {node.lineno}: {ast.unparse(node.func)}")
            if node.func.attr == "record" and "audit" in owner:
                found.append(f"line {node.lineno}: {ast.unparse(node.func)}")
    return found


@pytest.mark.parametrize("path", VIEWS, ids=lambda p: p.name)
def test_views_hold_no_query_or_audit_call(path: Path) -> None:
    assert forbidden_in_views(path) == []


@pytest.mark.parametrize("path", SERVICES, ids=lambda p: p.name)
def test_workspace_services_import_no_flask(path: Path) -> None:
    assert [n for n in imported_modules(path) if n.split(".")[0] in ("flask", "flask_babel")] == []


def test_the_checker_finds_a_query_and_an_audit_call(tmp_path: Path) -> None:
    sample = tmp_path / "view.py"
    sample.write_text(
        "from app.audit import service as audit\n"
        "def view():\n"
        "    db.session.execute(q)\n"
        "    audit.record(s, actor='x', action='y')\n"
    )
    assert len(forbidden_in_views(sample)) == 3
