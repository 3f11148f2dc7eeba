"""The one exception of the scheduling package: a bad schedule, timetable or policy value."""

from __future__ import annotations


class ScheduleError(ValueError):
    """A value the scheduling maths refuses, with the dotted path of the field at fault.

    ``str(error)`` reads ``"<field>: <problem>"``, e.g.
    ``"timetable.windows.sat: end 09:00 is before start 12:00"``, so a settings screen or an API
    error can point at the exact input.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem
