"""points: running totals per member (balance, growth points, today's activity, announced level)

Revision ID: points_0002
Revises: points_0001

The totals are derived from the ledger once here; from now on every ledger row updates them in its own
transaction. Today's activity points start at zero (the ledger does not know the groups' local days),
so on the day of the upgrade a member can earn the daily activity cap once more.
"""
from alembic import op
import sqlalchemy as sa


revision = 'points_0002'
down_revision = 'points_0001'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('points_member_totals',
    sa.Column('member_id', BIG_ID, nullable=False),
    sa.Column('chat_id', BIG_ID, nullable=False),
    sa.Column('balance', sa.Integer(), nullable=False),
    sa.Column('earned', sa.Integer(), nullable=False),
    sa.Column('activity_day', sa.Date(), nullable=True),
    sa.Column('activity_today', sa.Integer(), nullable=False),
    sa.Column('announced_level', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['chat_id'], ['chats.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('member_id')
    )
    with op.batch_alter_table('points_member_totals', schema=None) as batch_op:
        batch_op.create_index('ix_points_totals_chat_earned', ['chat_id', 'earned'], unique=False)
    op.execute(
        "INSERT INTO points_member_totals (member_id, chat_id, balance, earned, activity_day, activity_today, announced_level) "
        "SELECT l.member_id, min(l.chat_id), sum(l.amount), "
        "sum(CASE WHEN l.source IN ('shop', 'lottery') THEN 0 ELSE l.amount END), NULL, 0, "
        "coalesce(max(ml.announced_level), 1) "
        "FROM points_ledger AS l LEFT JOIN points_member_levels AS ml ON ml.member_id = l.member_id "
        "GROUP BY l.member_id"
    )
    op.drop_table('points_member_levels')


def downgrade() -> None:
    op.create_table('points_member_levels',
    sa.Column('member_id', BIG_ID, nullable=False),
    sa.Column('announced_level', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('member_id')
    )
    op.execute("INSERT INTO points_member_levels (member_id, announced_level) "
               "SELECT member_id, announced_level FROM points_member_totals")
    with op.batch_alter_table('points_member_totals', schema=None) as batch_op:
        batch_op.drop_index('ix_points_totals_chat_earned')
    op.drop_table('points_member_totals')
