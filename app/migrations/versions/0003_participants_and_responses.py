"""Participants, caregivers, invitations, devices, study instruments, study keys, sealed responses, alerts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-20 22:11:32.629460

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('caregivers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('display_name', sa.String(length=80), nullable=True),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_caregivers'))
    )
    op.create_table('study_instruments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('instrument_version_id', sa.Integer(), nullable=False),
    sa.Column('respondents', sa.String(length=8), nullable=False),
    sa.CheckConstraint("respondents IN ('self', 'proxy', 'both')", name=op.f('ck_study_instruments_known_respondents')),
    sa.ForeignKeyConstraint(['instrument_version_id'], ['instrument_versions.id'], name=op.f('fk_study_instruments_instrument_version_id_instrument_versions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['study_id'], ['studies.id'], name=op.f('fk_study_instruments_study_id_studies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_study_instruments')),
    sa.UniqueConstraint('study_id', 'instrument_version_id', name=op.f('uq_study_instruments_study_id_instrument_version_id'))
    )
    with op.batch_alter_table('study_instruments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_study_instruments_study_id'), ['study_id'], unique=False)

    op.create_table('study_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('public_key', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['study_id'], ['studies.id'], name=op.f('fk_study_keys_study_id_studies'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_study_keys')),
    sa.UniqueConstraint('key_id', name=op.f('uq_study_keys_key_id'))
    )
    with op.batch_alter_table('study_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_study_keys_study_id'), ['study_id'], unique=False)

    op.create_table('key_holder_wraps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_key_id', sa.Integer(), nullable=False),
    sa.Column('holder_kind', sa.String(length=16), nullable=False),
    sa.Column('staff_user_id', sa.Integer(), nullable=True),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(holder_kind = 'staff') = (staff_user_id IS NOT NULL)", name=op.f('ck_key_holder_wraps_staff_holder_named')),
    sa.CheckConstraint("holder_kind IN ('staff', 'recovery')", name=op.f('ck_key_holder_wraps_known_holder_kind')),
    sa.ForeignKeyConstraint(['staff_user_id'], ['staff_users.id'], name=op.f('fk_key_holder_wraps_staff_user_id_staff_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['study_key_id'], ['study_keys.id'], name=op.f('fk_key_holder_wraps_study_key_id_study_keys'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_key_holder_wraps')),
    sa.UniqueConstraint('study_key_id', 'staff_user_id', name=op.f('uq_key_holder_wraps_study_key_id_staff_user_id'))
    )
    with op.batch_alter_table('key_holder_wraps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_key_holder_wraps_study_key_id'), ['study_key_id'], unique=False)

    op.create_table('participants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('age_band', sa.String(length=16), nullable=False),
    sa.Column('arm', sa.String(length=64), nullable=True),
    sa.Column('nickname', sa.String(length=40), nullable=True),
    sa.Column('colour', sa.String(length=7), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('paused_until', sa.Date(), nullable=True),
    sa.Column('enrolled_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("age_band IN ('child', 'adolescent', 'adult')", name=op.f('ck_participants_known_age_band')),
    sa.CheckConstraint("status IN ('active', 'paused', 'withdrawn')", name=op.f('ck_participants_known_status')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_participants_site_id_sites'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['study_id'], ['studies.id'], name=op.f('fk_participants_study_id_studies'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_participants')),
    sa.UniqueConstraint('study_id', 'code', name=op.f('uq_participants_study_id_code'))
    )
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_participants_site_id'), ['site_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_participants_study_id'), ['study_id'], unique=False)

    op.create_table('caregiver_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('caregiver_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('caregiver_role', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("caregiver_role IN ('parent', 'other_caregiver')", name=op.f('ck_caregiver_links_known_caregiver_role')),
    sa.ForeignKeyConstraint(['caregiver_id'], ['caregivers.id'], name=op.f('fk_caregiver_links_caregiver_id_caregivers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_caregiver_links_participant_id_participants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_caregiver_links')),
    sa.UniqueConstraint('caregiver_id', 'participant_id', name=op.f('uq_caregiver_links_caregiver_id_participant_id'))
    )
    with op.batch_alter_table('caregiver_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_caregiver_links_caregiver_id'), ['caregiver_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_caregiver_links_participant_id'), ['participant_id'], unique=False)

    op.create_table('devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=True),
    sa.Column('caregiver_id', sa.Integer(), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('(participant_id IS NULL) <> (caregiver_id IS NULL)', name=op.f('ck_devices_exactly_one_holder')),
    sa.ForeignKeyConstraint(['caregiver_id'], ['caregivers.id'], name=op.f('fk_devices_caregiver_id_caregivers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_devices_participant_id_participants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_devices')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_devices_token_hash'))
    )
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_devices_caregiver_id'), ['caregiver_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_devices_participant_id'), ['participant_id'], unique=False)

    op.create_table('invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=True),
    sa.Column('caregiver_id', sa.Integer(), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('redeemed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.CheckConstraint('(participant_id IS NULL) <> (caregiver_id IS NULL)', name=op.f('ck_invitations_exactly_one_invitee')),
    sa.ForeignKeyConstraint(['caregiver_id'], ['caregivers.id'], name=op.f('fk_invitations_caregiver_id_caregivers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_invitations_participant_id_participants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_invitations_code_hash')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_invitations_token_hash'))
    )
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitations_caregiver_id'), ['caregiver_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invitations_participant_id'), ['participant_id'], unique=False)

    op.create_table('responses',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('content_mac', sa.String(length=64), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('participant_id', sa.Integer(), nullable=False),
    sa.Column('instrument_version_id', sa.Integer(), nullable=False),
    sa.Column('respondent_type', sa.String(length=20), nullable=False),
    sa.Column('answered_by_caregiver_id', sa.Integer(), nullable=True),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('device_utc_offset_minutes', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('study_key_id', sa.String(length=32), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.Column('hard_to_understand', sa.JSON(), nullable=False),
    sa.CheckConstraint("respondent_type IN ('self', 'parent', 'other_caregiver', 'staff_assisted')", name=op.f('ck_responses_known_respondent_type')),
    sa.ForeignKeyConstraint(['answered_by_caregiver_id'], ['caregivers.id'], name=op.f('fk_responses_answered_by_caregiver_id_caregivers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_responses_device_id_devices'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['instrument_version_id'], ['instrument_versions.id'], name=op.f('fk_responses_instrument_version_id_instrument_versions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['participant_id'], ['participants.id'], name=op.f('fk_responses_participant_id_participants'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['study_id'], ['studies.id'], name=op.f('fk_responses_study_id_studies'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_responses')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_responses_idempotency_key'))
    )
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_responses_participant_id'), ['participant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_responses_study_id'), ['study_id'], unique=False)

    op.create_table('alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('response_id', sa.String(length=36), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.String(length=64), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['acknowledged_by'], ['staff_users.id'], name=op.f('fk_alerts_acknowledged_by_staff_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['response_id'], ['responses.id'], name=op.f('fk_alerts_response_id_responses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_alerts_site_id_sites'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['study_id'], ['studies.id'], name=op.f('fk_alerts_study_id_studies'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alerts_response_id'), ['response_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_site_id'), ['site_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_study_id'), ['study_id'], unique=False)



def downgrade():
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alerts_study_id'))
        batch_op.drop_index(batch_op.f('ix_alerts_site_id'))
        batch_op.drop_index(batch_op.f('ix_alerts_response_id'))

    op.drop_table('alerts')
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_responses_study_id'))
        batch_op.drop_index(batch_op.f('ix_responses_participant_id'))

    op.drop_table('responses')
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitations_participant_id'))
        batch_op.drop_index(batch_op.f('ix_invitations_caregiver_id'))

    op.drop_table('invitations')
    with op.batch_alter_table('devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_devices_participant_id'))
        batch_op.drop_index(batch_op.f('ix_devices_caregiver_id'))

    op.drop_table('devices')
    with op.batch_alter_table('caregiver_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_caregiver_links_participant_id'))
        batch_op.drop_index(batch_op.f('ix_caregiver_links_caregiver_id'))

    op.drop_table('caregiver_links')
    with op.batch_alter_table('participants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_participants_study_id'))
        batch_op.drop_index(batch_op.f('ix_participants_site_id'))

    op.drop_table('participants')
    with op.batch_alter_table('key_holder_wraps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_key_holder_wraps_study_key_id'))

    op.drop_table('key_holder_wraps')
    with op.batch_alter_table('study_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_study_keys_study_id'))

    op.drop_table('study_keys')
    with op.batch_alter_table('study_instruments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_study_instruments_study_id'))

    op.drop_table('study_instruments')
    op.drop_table('caregivers')
