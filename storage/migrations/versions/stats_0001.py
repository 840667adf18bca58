"""stats: members (chat_id, status) index; stats_snapshots

Revision ID: stats_0001
Revises: 0001_core
"""
from alembic import op
import sqlalchemy as sa

import storage.types


revision = 'stats_0001'
down_revision = '0001_core'
branch_labels = ('stats',)
depends_on = None


def upgrade() -> None:
    op.create_table('stats_snapshots',
    sa.Column('chat_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('computed_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['chat_id'], ['chats.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('chat_id', 'day', 'kind')
    )
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.create_index('ix_members_chat_status', ['chat_id', 'status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_index('ix_members_chat_status')
    op.drop_table('stats_snapshots')
