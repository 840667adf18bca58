"""web console: one-time sign-in links and sessions

Revision ID: web_0001
Revises: 0001_core
"""
from alembic import op
import sqlalchemy as sa

import storage.types


revision = 'web_0001'
down_revision = '0001_core'
branch_labels = ('web',)
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('web_login_links',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_key', sa.String(length=160), nullable=False),
    sa.Column('user_name', sa.String(length=255), nullable=True),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('token_hash')
    )
    op.create_index('ix_web_login_links_user', 'web_login_links', ['user_key', 'created_at'])
    op.create_table('web_sessions',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('csrf', sa.String(length=64), nullable=False),
    sa.Column('user_key', sa.String(length=160), nullable=False),
    sa.Column('user_name', sa.String(length=255), nullable=True),
    sa.Column('via', sa.String(length=16), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('user_agent', sa.String(length=255), nullable=True),
    sa.Column('address', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index('ix_web_sessions_user', 'web_sessions', ['user_key', 'created_at'])


def downgrade() -> None:
    op.drop_index('ix_web_sessions_user', 'web_sessions')
    op.drop_table('web_sessions')
    op.drop_index('ix_web_login_links_user', 'web_login_links')
    op.drop_table('web_login_links')
