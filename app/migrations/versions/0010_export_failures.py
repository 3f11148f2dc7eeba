"""Exports that fail say so: status "failed" with a reason code, and a heartbeat.

A crashed or killed export no longer stays "running" forever: the process running an export
writes ``heartbeat_at`` every few seconds, and one without a recent heartbeat is marked
"failed" with the reason "abandoned"; an error in the stream ends it "failed" at once.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 17:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

OLD = "status IN ('running', 'completed', 'incomplete')"
NEW = "status IN ('running', 'completed', 'incomplete', 'failed')"


def upgrade():
    with op.batch_alter_table('export_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failure', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(batch_op.f('ck_export_records_known_export_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_export_records_known_export_status'), NEW)


def downgrade():
    op.execute(
        "UPDATE export_records SET status = 'incomplete' WHERE status = 'failed'"
    )
    with op.batch_alter_table('export_records', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_export_records_known_export_status'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_export_records_known_export_status'), OLD)
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('failure')
