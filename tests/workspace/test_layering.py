"""Issue #12's rule for the edges: views parse, call a service and serialize or render. No SQL
query and no audit call in any module of app/api/ or app/web/; the services (app.workspace and
the domain services) do both, and app.workspace imports no Flask."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.test_architecture import imported_modules

APP = Path(__file__).resolve().parents[2] / "app"
VIEWS = sorted((APP / "api").rglob("*.py")) + sorted((APP / "web").rglob("*.py"))
SERVICES = sorted((APP / "workspace").glob("*.py"))
DATABASE_SESSIONS = {"db.session", "db.session()", "db_session()", "session", "session()"}
QUERY_CALLS = {"execute", "scalar", "scalars", "query", "get", "add", "delete", "flush"}
FORBIDDEN_IMPORTS = ("sqlalchemy", "app.audit", "app.models")
# SQLAlchemy's statement builders, should one arrive without an import (a re-export).
STATEMENT_BUILDERS = {"select", "insert", "update", "delete", "text"}

# Module (relative to app/) -> why it may hold what the rule forbids. Keep it short.
ALLOWED: dict[str, str] = {
    "web/health.py": "the readiness probe's whole job is one `SELECT 1` against the database",
}


def forbidden_in_views(path: Path) -> list[str]:
    found = [
        f"imports {name}" for name in imported_modules(path) if name.startswith(FORBIDDEN_IMPORTS)
    ]
    tree = ast.parse(path.read_text("utf-8"))
    for node in ast.walk(tree):
        # `from app import audit, models` names the package, not the module.
        if isinstance(node, ast.ImportFrom) and node.module == "app":
            found += [
                f"imports app.{alias.name}"
                for alias in node.names
                if f"app.{alias.name}".startswith(FORBIDDEN_IMPORTS)
            ]
        # Flask-SQLAlchemy's legacy Model.query.
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "query"
            and isinstance(node.value, ast.Name)
            and node.value.id[:1].isupper()
        ):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name) and node.func.id in STATEMENT_BUILDERS:
            found.append(f"line {node.lineno}: {node.func.id}(...)")
        if isinstance(node.func, ast.Attribute):
            # db.session.execute(...), session.scalars(...), audit.record(...): queries and audit.
            owner = ast.unparse(node.func.value)
            if node.func.attr in QUERY_CALLS and owner in DATABASE_SESSIONS:
                found.append(f"line {node.lineno}: {ast.unparse(node.func)}")
            if node.func.attr == "record" and "audit" in owner:
                found.append(f"line {node.lineno}: {ast.unparse(node.func)}")
    return found


def _name(path: Path) -> str:
    return path.relative_to(APP).as_posix()


@pytest.mark.parametrize("path", VIEWS, ids=_name)
def test_views_hold_no_query_or_audit_call(path: Path) -> None:
    if _name(path) in ALLOWED:
        assert forbidden_in_views(path), f"{_name(path)} is clean now: drop it from ALLOWED"
        return
    assert forbidden_in_views(path) == []


def test_the_allow_list_names_real_modules() -> None:
    assert {name for name in ALLOWED if not (APP / name).is_file()} == set()


def test_the_views_include_the_api_and_the_pages() -> None:
    names = {_name(path) for path in VIEWS}
    assert {"api/participants.py", "api/timetables.py", "web/site/participants.py"} <= names


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


def test_the_checker_finds_statements_and_model_queries(tmp_path: Path) -> None:
    sample = tmp_path / "view.py"
    sample.write_text(
        "from app import audit\n"
        "from app.db import select\n"
        "def view():\n"
        "    rows = db.session.scalars(select(Participant))\n"
        "    first = Participant.query.first()\n"
        "    return request.args.get('q'), query.get('site')\n"
    )
    assert forbidden_in_views(sample) == [
        "imports app.audit",
        "line 4: db.session.scalars",
        "line 4: select(...)",
        "line 5: Participant.query",
    ]
