"""onboarding tables: questionnaire runs, answers, per-group state

Revision ID: onboarding_0001
Revises: 0001_core
"""
from alembic import op
import sqlalchemy as sa

import storage.types


revision = 'onboarding_0001'
down_revision = '0001_core'
branch_labels = ('onboarding',)
depends_on = None


def upgrade() -> None:
    op.create_table('onboarding_chat_state',
    sa.Column('chat_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('raid_since', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('raid_until', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('raid_peak', sa.Integer(), nullable=False),
    sa.Column('warned', sa.JSON(), nullable=False),
    sa.Column('shared_messages', sa.JSON(), nullable=False),
    sa.Column('shared_open', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['chat_id'], ['chats.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('chat_id')
    )
    op.create_index(op.f('ix_onboarding_chat_state_shared_open'), 'onboarding_chat_state', ['shared_open'], unique=False)
    op.create_table('onboarding_answers',
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('question_id', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('answered_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('member_id', 'question_id')
    )
    op.create_table('onboarding_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('chat_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('member_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('started_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deadline_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('via', sa.String(length=8), nullable=False),
    sa.Column('join_request', sa.Boolean(), nullable=False),
    sa.Column('restricted', sa.Boolean(), nullable=False),
    sa.Column('strict', sa.Boolean(), nullable=False),
    sa.Column('invited_by', sa.String(length=128), nullable=True),
    sa.Column('question_message_id', sa.String(length=64), nullable=True),
    sa.Column('cleanup_ids', sa.JSON(), nullable=False),
    sa.Column('invalid_answers', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['chat_id'], ['chats.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('member_id')
    )
    op.create_index(op.f('ix_onboarding_runs_chat_id'), 'onboarding_runs', ['chat_id'], unique=False)
    op.create_index('ix_onboarding_runs_status_deadline', 'onboarding_runs', ['status', 'deadline_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_onboarding_runs_status_deadline', table_name='onboarding_runs')
    op.drop_index(op.f('ix_onboarding_runs_chat_id'), table_name='onboarding_runs')
    op.drop_table('onboarding_runs')
    op.drop_table('onboarding_answers')
    op.drop_index(op.f('ix_onboarding_chat_state_shared_open'), table_name='onboarding_chat_state')
    op.drop_table('onboarding_chat_state')
