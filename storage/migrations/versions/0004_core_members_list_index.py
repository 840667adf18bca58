"""members, member_tags: indexes for the web console's members list (order, filters, search; tag filter)

Revision ID: 0004_core_members_list_index
Revises: 0003_core_username_index
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_core_members_list_index'
down_revision = '0003_core_username_index'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Partial on a condition every row meets, so only the console's list queries (which state it) use it.
    op.create_index('ix_members_chat_list', 'members',
                    ['chat_id', 'joined_at', 'id', 'status', 'display_name', 'username', 'user_id'], unique=False,
                    sqlite_where=sa.text('status IS NOT NULL'), postgresql_where=sa.text('status IS NOT NULL'))
    op.create_index('ix_member_tags_tag', 'member_tags', ['tag', 'member_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_member_tags_tag', table_name='member_tags')
    op.drop_index('ix_members_chat_list', table_name='members')
