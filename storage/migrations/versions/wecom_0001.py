"""wecom tables: chat kinds and owners, member snapshots, message-archive cursor

Revision ID: wecom_0001
Revises: 0001_core
"""
from alembic import op
import sqlalchemy as sa

import storage.types


revision = 'wecom_0001'
down_revision = '0001_core'
branch_labels = ('wecom',)
depends_on = None


def upgrade() -> None:
    op.create_table('wecom_archive_cursor',
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('source')
    )
    op.create_table('wecom_chats',
    sa.Column('chat_id', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('owner', sa.String(length=128), nullable=True),
    sa.Column('admins', sa.JSON(), nullable=False),
    sa.Column('dismissed', sa.Boolean(), nullable=False),
    sa.Column('refreshed_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('snapshot_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('chat_id')
    )
    op.create_table('wecom_chat_members',
    sa.Column('chat_id', sa.String(length=128), nullable=False),
    sa.Column('user_id', sa.String(length=128), nullable=False),
    sa.Column('member_type', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('join_time', sa.BigInteger(), nullable=True),
    sa.Column('join_scene', sa.Integer(), nullable=True),
    sa.Column('invitor', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['chat_id'], ['wecom_chats.chat_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('chat_id', 'user_id')
    )


def downgrade() -> None:
    op.drop_table('wecom_chat_members')
    op.drop_table('wecom_chats')
    op.drop_table('wecom_archive_cursor')
