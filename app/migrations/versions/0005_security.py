"""Security (issue #10): what a caregiver's phone reaches, a keyed audit chain, keyed dedupe MACs.

* invitations.reach / devices.reach: the children a caregiver's invitation or phone may answer
  for. Caregiver invitations and phones that exist at upgrade keep what they reached then (every
  child the caregiver was linked to), recorded here so it no longer grows by itself.
* audit_events.scheme: 1 = the plain SHA-256 chain of events written before this upgrade
  (still verifiable as they were), 2 = HMAC-SHA256 keyed by CHORUS_AUDIT_KEY (new events).
* responses.content_mac_scheme: 1 = the resend fingerprint keyed by the client's UUID alone
  (rows stored before this upgrade: their resends still match), 2 = keyed by a server secret too.

Columns are added with ADD COLUMN, never a batch table copy: on SQLite a copy of audit_events
would drop its append-only triggers.

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('invitations', sa.Column('reach', sa.JSON(), nullable=True))
    op.add_column('devices', sa.Column('reach', sa.JSON(), nullable=True))
    op.add_column(
        'audit_events',
        sa.Column('scheme', sa.SmallInteger(), server_default='1', nullable=False),
    )
    op.add_column(
        'responses',
        sa.Column('content_mac_scheme', sa.SmallInteger(), server_default='1', nullable=False),
    )
    _record_existing_reach()
    _seal_plain_events()


def _seal_plain_events():
    """Close the plain-hash prefix with one keyed event naming its last sequence number, so
    rewriting those events (or the whole log) with the public hash breaks the chain. Written
    with explicit columns so later changes to the model cannot change this migration."""
    import datetime as dt

    from app.audit import service as audit
    from app.db import UTCDateTime

    conn = op.get_bind()
    last_seq, last_hash = conn.execute(
        sa.text("SELECT last_seq, last_hash FROM audit_head WHERE id = 1")
    ).one()
    if last_seq == 0:
        return
    key = audit._current_key()  # the app running the upgrade configured it (create_app)
    seq, now = last_seq + 1, dt.datetime.now(dt.timezone.utc)
    fields = dict(
        seq=seq,
        occurred_at=now,
        actor="migration:0005",
        action=audit.SEAL_ACTION,
        target=None,
        reason=None,
        details={"plain_until": last_seq},
        prev_hash=last_hash,
    )
    digest = audit.event_hash(**fields, scheme=audit.SCHEME_KEYED, key=key)
    events = sa.table(
        'audit_events',
        *(sa.column(name) for name in ('seq', 'actor', 'action', 'target', 'reason', 'prev_hash', 'hash', 'scheme')),
        sa.column('details', sa.JSON()),
        sa.column('occurred_at', UTCDateTime()),
    )
    conn.execute(events.insert().values(**fields, hash=digest, scheme=audit.SCHEME_KEYED))
    conn.execute(
        sa.text("UPDATE audit_head SET last_seq = :seq, last_hash = :hash WHERE id = 1"),
        {"seq": seq, "hash": digest},
    )


def _record_existing_reach():
    conn = op.get_bind()
    links = sa.text(
        "SELECT l.caregiver_id, l.participant_id FROM caregiver_links l"
        " JOIN participants p ON p.id = l.participant_id"
        " WHERE l.ended_at IS NULL AND p.status <> 'withdrawn' ORDER BY l.participant_id"
    )
    children = {}
    for caregiver_id, participant_id in conn.execute(links):
        children.setdefault(caregiver_id, []).append(participant_id)
    invitations = sa.table('invitations', sa.column('id'), sa.column('reach', sa.JSON()))
    devices = sa.table('devices', sa.column('id'), sa.column('reach', sa.JSON()))
    for table, name in ((invitations, 'invitations'), (devices, 'devices')):
        rows = conn.execute(
            sa.text(f"SELECT id, caregiver_id FROM {name} WHERE caregiver_id IS NOT NULL")
        )
        for row_id, caregiver_id in list(rows):
            conn.execute(
                table.update()
                .where(table.c.id == row_id)
                .values(reach=children.get(caregiver_id, []))
            )


def downgrade():
    op.drop_column('responses', 'content_mac_scheme')
    op.drop_column('audit_events', 'scheme')
    op.drop_column('devices', 'reach')
    op.drop_column('invitations', 'reach')
