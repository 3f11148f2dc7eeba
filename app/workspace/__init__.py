"""Services behind the staff edges: the workspace pages (issue #13) and the staff JSON API.

Every function takes the acting staff user, checks `app.access` and records the audit event of
any view of participant data, so the pages in `app/web/site/` and the views in `app/api/` only
parse, call and render or serialize (no queries and no audit calls there;
tests/workspace/test_layering.py checks it). Flask-free.
"""
