"""members: index on (chat_id, lower(username)) for @handle lookups

Revision ID: 0003_core_username_index
Revises: 0002_core_intake
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_core_username_index'
down_revision = '0002_core_intake'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_members_chat_username', 'members', ['chat_id', sa.text('lower(username)')], unique=False)


def downgrade() -> None:
    op.drop_index('ix_members_chat_username', table_name='members')
