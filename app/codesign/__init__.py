"""The co-design workspace (issue #15): patient groups and study staff draft, discuss, translate,
review and publish instruments together.

Flask-free modules: ``document`` (a draft as the instrument file's own data, field paths, the
loader's validation), ``expressions`` (one expression checked as typed), ``diff`` (any two
versions), ``translations`` (completeness, staleness, CSV), ``xliff`` (the same as XLIFF 2.0),
``readability`` (the one adapter to ``app.instruments.readability``), ``importers`` (file
formats into instrument YAML), ``messages`` (messages kept translatable for the pages). ``models``
and ``service`` hold the database side: every service takes the acting staff user, checks
``app.access`` and records the audit event; callers commit.
"""
