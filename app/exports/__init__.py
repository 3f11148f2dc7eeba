"""Datasets for research sites: one export engine, one module per format (issue #14).

``engine`` writes one streamed ZIP from records handed to it (it imports no Flask and no
SQLAlchemy); ``service`` owns unlocking, access, de-identification by role, audit events,
history and progress, and feeds the engine from a database cursor.
"""
