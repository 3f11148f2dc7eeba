"""Schedules, occurrences, timetables, push subscriptions and the reminder outbox (the database
side of reminders). The maths lives in ``app.scheduling`` (pure), the senders in
``app.delivery``; this package joins them to storage and is driven by ``chorus scheduler``."""
