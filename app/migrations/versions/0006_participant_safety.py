"""Participant safety (#11): repeat answers flagged, safety contacts per study and site and
language, and a language for staff.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-01 14:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('studies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('safety_contacts', sa.JSON(), server_default='{}', nullable=False))
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.add_column(sa.Column('safety_contacts', sa.JSON(), server_default='{}', nullable=False))
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=16), server_default='en', nullable=False))
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('repeat_of_response_id', sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f('ix_responses_repeat_of_response_id'), ['repeat_of_response_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_responses_repeat_of_response_id_responses'), 'responses', ['repeat_of_response_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_column('language')
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_column('safety_contacts')
    with op.batch_alter_table('studies', schema=None) as batch_op:
        batch_op.drop_column('safety_contacts')
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_responses_repeat_of_response_id_responses'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_responses_repeat_of_response_id'))
        batch_op.drop_column('repeat_of_response_id')
