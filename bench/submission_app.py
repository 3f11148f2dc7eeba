"""The WSGI app the submission benchmark serves: Chorus as in production plus one bench-only
endpoint, ``POST /bench/insert``, the baseline -- one row inserted and committed per request
on the same server, database and connection pool. Only ``gunicorn 'bench.submission_app:build()'``
(run by ``bench/submission.py``) loads this module; ``wsgi.py`` never does.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, request

from app import create_app
from app.extensions import csrf, db

BENCH_TABLE = sa.Table(
    "bench_inserts",
    sa.MetaData(),
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
)

bench = Blueprint("bench", __name__, url_prefix="/bench")


@bench.post("/insert")
def insert() -> Response:
    """Parse the same JSON a submission carries and store it as one row: the least a durable
    acknowledgement can cost on this stack."""
    payload = request.get_json(force=True)
    row_id = str(uuid.UUID(payload["id"]))
    db.session.execute(
        BENCH_TABLE.insert().values(
            id=row_id, body=json.dumps(payload), received_at=dt.datetime.now(dt.UTC)
        )
    )
    db.session.commit()
    return Response(json.dumps({"id": row_id}), status=201, mimetype="application/json")


def build() -> Flask:
    flask_app = create_app()
    csrf.exempt(bench)
    flask_app.register_blueprint(bench)
    return flask_app
