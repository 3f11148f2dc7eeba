"""Services behind the staff workspace pages (issue #13).

Every function takes the acting staff user, checks `app.access` and records the audit event of
any view of participant data, so the pages in `app/web/site/` only parse, call and render (no
queries and no audit calls there; tests/workspace/test_layering.py checks it). Flask-free.
"""
