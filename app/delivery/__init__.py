"""Delivery of reminders and staff alerts: Web Push (VAPID, RFC 8291 via pywebpush) and e-mail.

Plain functions and classes that take explicit settings and return an outcome the outbox can act
on (delivered / gone / retry / rejected). No Flask, no database: the scheduler decides what to
send and records what happened; this package only talks to push services and SMTP servers.
"""
