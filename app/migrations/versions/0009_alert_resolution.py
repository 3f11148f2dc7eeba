"""Alerts: resolved (who, when, outcome, note) as well as acknowledged. Schedules: for one
participant as well as for an arm or everyone (both added from the workspace, #13).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 17:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('resolved_by', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('resolution_outcome', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('resolution_note', sa.Text(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_alerts_resolved_by_staff_users'), 'staff_users', ['resolved_by'], ['id'], ondelete='SET NULL')
        batch_op.create_check_constraint(batch_op.f('ck_alerts_known_resolution_outcome'), "resolution_outcome IS NULL OR resolution_outcome IN ('contacted', 'referred', 'no_action', 'other')")
        batch_op.create_check_constraint(batch_op.f('ck_alerts_resolution_complete'), '(resolved_at IS NULL) = (resolution_outcome IS NULL)')

    with op.batch_alter_table('study_schedules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('participant_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_study_schedules_participant_id'), ['participant_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_study_schedules_participant_id_participants'), 'participants', ['participant_id'], ['id'], ondelete='CASCADE')
        batch_op.create_check_constraint(batch_op.f('ck_study_schedules_one_target'), 'participant_id IS NULL OR arm IS NULL')


def downgrade():
    with op.batch_alter_table('study_schedules', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_study_schedules_one_target'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_study_schedules_participant_id_participants'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_study_schedules_participant_id'))
        batch_op.drop_column('participant_id')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_alerts_resolution_complete'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_alerts_known_resolution_outcome'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_alerts_resolved_by_staff_users'), type_='foreignkey')
        batch_op.drop_column('resolution_note')
        batch_op.drop_column('resolution_outcome')
        batch_op.drop_column('resolved_by')
        batch_op.drop_column('resolved_at')
