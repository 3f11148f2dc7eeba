"""The tamper-evident audit log: every staff action on participant data, every export."""
