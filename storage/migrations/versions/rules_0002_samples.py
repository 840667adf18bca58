"""rules: learning samples (hashed grams of judged messages, labelled by the admins)

Revision ID: rules_0002
Revises: rules_0001
"""
from alembic import op
import sqlalchemy as sa

import storage.types


revision = 'rules_0002'
down_revision = 'rules_0001'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('rules_samples',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('chat_id', BIG_ID, nullable=False),
    sa.Column('audit_id', BIG_ID, nullable=True),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('label', sa.String(length=8), nullable=True),
    sa.Column('features', sa.JSON(), nullable=False),
    sa.Column('features_version', sa.Integer(), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('labelled_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('labelled_by', sa.String(length=160), nullable=True),
    sa.ForeignKeyConstraint(['audit_id'], ['audit_log.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['chat_id'], ['chats.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rules_samples', schema=None) as batch_op:
        batch_op.create_index('ix_rules_samples_audit', ['audit_id'], unique=True)
        batch_op.create_index('ix_rules_samples_labelled', ['label', 'labelled_at'], unique=False)
        batch_op.create_index('ix_rules_samples_review', ['chat_id', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rules_samples', schema=None) as batch_op:
        batch_op.drop_index('ix_rules_samples_review')
        batch_op.drop_index('ix_rules_samples_labelled')
        batch_op.drop_index('ix_rules_samples_audit')
    op.drop_table('rules_samples')
