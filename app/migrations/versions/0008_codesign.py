"""Co-design drafts: parts with revisions, changes, comments, suggestions, approvals, review transitions, settings.

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-01 14:14:12.360148

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('codesign_drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('instrument_key', sa.String(length=64), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('base_version_id', sa.Integer(), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_version_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("state IN ('draft', 'in_review', 'changes_requested', 'approved', 'published')", name=op.f('ck_codesign_drafts_known_state')),
    sa.ForeignKeyConstraint(['base_version_id'], ['instrument_versions.id'], name=op.f('fk_codesign_drafts_base_version_id_instrument_versions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['owner_id'], ['staff_users.id'], name=op.f('fk_codesign_drafts_owner_id_staff_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['published_version_id'], ['instrument_versions.id'], name=op.f('fk_codesign_drafts_published_version_id_instrument_versions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['study_id'], ['studies.id'], name=op.f('fk_codesign_drafts_study_id_studies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_codesign_drafts')),
    sa.UniqueConstraint('study_id', 'instrument_key', 'version', name=op.f('uq_codesign_drafts_study_id_instrument_key_version'))
    )

    op.create_table('codesign_settings',
    sa.Column('study_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('readability_target_grade', sa.Double(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['study_id'], ['studies.id'], name=op.f('fk_codesign_settings_study_id_studies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by'], ['staff_users.id'], name=op.f('fk_codesign_settings_updated_by_staff_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('study_id', name=op.f('pk_codesign_settings'))
    )
    op.create_table('codesign_approvals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('draft_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('side', sa.String(length=16), nullable=False),
    sa.Column('content_hash', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("side IN ('patient_group', 'study_staff')", name=op.f('ck_codesign_approvals_known_side')),
    sa.ForeignKeyConstraint(['draft_id'], ['codesign_drafts.id'], name=op.f('fk_codesign_approvals_draft_id_codesign_drafts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['staff_users.id'], name=op.f('fk_codesign_approvals_user_id_staff_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_codesign_approvals')),
    sa.UniqueConstraint('draft_id', 'user_id', 'content_hash', name=op.f('uq_codesign_approvals_draft_id_user_id_content_hash'))
    )
    op.create_table('codesign_comments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('draft_id', sa.Integer(), nullable=False),
    sa.Column('part_key', sa.String(length=64), nullable=True),
    sa.Column('path', sa.String(length=300), nullable=True),
    sa.Column('thread_id', sa.Integer(), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['staff_users.id'], name=op.f('fk_codesign_comments_author_id_staff_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['draft_id'], ['codesign_drafts.id'], name=op.f('fk_codesign_comments_draft_id_codesign_drafts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['resolved_by'], ['staff_users.id'], name=op.f('fk_codesign_comments_resolved_by_staff_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['thread_id'], ['codesign_comments.id'], name=op.f('fk_codesign_comments_thread_id_codesign_comments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_codesign_comments'))
    )
    with op.batch_alter_table('codesign_comments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_codesign_comments_draft_id'), ['draft_id'], unique=False)

    op.create_table('codesign_parts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('draft_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('translation_sources', sa.JSON(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['draft_id'], ['codesign_drafts.id'], name=op.f('fk_codesign_parts_draft_id_codesign_drafts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by'], ['staff_users.id'], name=op.f('fk_codesign_parts_updated_by_staff_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_codesign_parts')),
    sa.UniqueConstraint('draft_id', 'key', name=op.f('uq_codesign_parts_draft_id_key'))
    )
    op.create_table('codesign_suggestions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('draft_id', sa.Integer(), nullable=False),
    sa.Column('part_key', sa.String(length=64), nullable=False),
    sa.Column('path', sa.String(length=300), nullable=False),
    sa.Column('value', sa.JSON(), nullable=True),
    sa.Column('base_value', sa.JSON(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('open', 'accepted', 'rejected')", name=op.f('ck_codesign_suggestions_known_status')),
    sa.ForeignKeyConstraint(['author_id'], ['staff_users.id'], name=op.f('fk_codesign_suggestions_author_id_staff_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['decided_by'], ['staff_users.id'], name=op.f('fk_codesign_suggestions_decided_by_staff_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['draft_id'], ['codesign_drafts.id'], name=op.f('fk_codesign_suggestions_draft_id_codesign_drafts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_codesign_suggestions'))
    )
    with op.batch_alter_table('codesign_suggestions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_codesign_suggestions_draft_id'), ['draft_id'], unique=False)

    op.create_table('codesign_transitions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('draft_id', sa.Integer(), nullable=False),
    sa.Column('from_state', sa.String(length=20), nullable=False),
    sa.Column('to_state', sa.String(length=20), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['staff_users.id'], name=op.f('fk_codesign_transitions_actor_id_staff_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['draft_id'], ['codesign_drafts.id'], name=op.f('fk_codesign_transitions_draft_id_codesign_drafts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_codesign_transitions'))
    )
    with op.batch_alter_table('codesign_transitions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_codesign_transitions_draft_id'), ['draft_id'], unique=False)

    op.create_table('codesign_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('draft_id', sa.Integer(), nullable=False),
    sa.Column('part_key', sa.String(length=64), nullable=False),
    sa.Column('path', sa.String(length=300), nullable=False),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('applied_by', sa.Integer(), nullable=True),
    sa.Column('suggestion_id', sa.Integer(), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['applied_by'], ['staff_users.id'], name=op.f('fk_codesign_changes_applied_by_staff_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['author_id'], ['staff_users.id'], name=op.f('fk_codesign_changes_author_id_staff_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['draft_id'], ['codesign_drafts.id'], name=op.f('fk_codesign_changes_draft_id_codesign_drafts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['suggestion_id'], ['codesign_suggestions.id'], name=op.f('fk_codesign_changes_suggestion_id_codesign_suggestions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_codesign_changes'))
    )
    with op.batch_alter_table('codesign_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_codesign_changes_draft_id'), ['draft_id'], unique=False)



def downgrade():
    with op.batch_alter_table('codesign_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_codesign_changes_draft_id'))

    op.drop_table('codesign_changes')
    with op.batch_alter_table('codesign_transitions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_codesign_transitions_draft_id'))

    op.drop_table('codesign_transitions')
    with op.batch_alter_table('codesign_suggestions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_codesign_suggestions_draft_id'))

    op.drop_table('codesign_suggestions')
    op.drop_table('codesign_parts')
    with op.batch_alter_table('codesign_comments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_codesign_comments_draft_id'))

    op.drop_table('codesign_comments')
    op.drop_table('codesign_approvals')
    op.drop_table('codesign_settings')
    op.drop_table('codesign_drafts')
