"""One module owns the outbox's CANCELLED transition (issue #12): `app.reminders.outbox`
(`cancel` for one row, `cancel_pending` for a selection). Anything else writing the state
would bypass its rule that rows claimed by a tick are the dispatcher's."""

from __future__ import annotations

from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"


def test_only_the_outbox_module_writes_cancelled() -> None:
    writers = [
        str(path.relative_to(APP))
        for path in sorted(APP.rglob("*.py"))
        if "migrations" not in path.parts
        and path != APP / "reminders" / "outbox.py"
        and "OutboxState.CANCELLED.value" in path.read_text("utf-8")
    ]
    assert writers == []
