"""records a plant can trust: device secrets and kinds, who pushed, sign-in sessions, badges, PINs, role history

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 15:00:00

"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sync_devices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=10), server_default='device', nullable=False))
        batch_op.add_column(sa.Column('secret_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('session_id', sa.String(length=64), nullable=True))
    # Devices the server made: the no-JavaScript "web" device of each person, and imported exports.
    op.execute("UPDATE sync_devices SET kind = 'web' WHERE label = 'web'")
    op.execute("UPDATE sync_devices SET kind = 'import' WHERE label = 'imported'")
    with op.batch_alter_table('sync_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pushed_by', sa.Integer(), nullable=True))
    with op.batch_alter_table('sync_quarantine', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pushed_by', sa.Integer(), nullable=True))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pin_salt', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('pin_key', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('pin_set_at', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('pin_failures', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('pin_locked_until', sa.BigInteger(), nullable=True))
    op.create_table('role_spans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('valid_from', sa.BigInteger(), nullable=False),
    sa.Column('valid_to', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_role_spans_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_role_spans'))
    )
    with op.batch_alter_table('role_spans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_role_spans_user_id'), ['user_id'], unique=False)
    # Everyone held their present role from the beginning: there was no history before this.
    op.execute("INSERT INTO role_spans (user_id, role, valid_from) SELECT id, role, 0 FROM users")
    op.create_table('staff_badges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('issued_at', sa.BigInteger(), nullable=False),
    sa.Column('issued_by', sa.Integer(), nullable=True),
    sa.Column('revoked_at', sa.BigInteger(), nullable=True),
    sa.Column('revoked_by', sa.Integer(), nullable=True),
    sa.Column('revoke_reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_staff_badges_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_badges')),
    sa.UniqueConstraint('code', name=op.f('uq_staff_badges_code'))
    )
    with op.batch_alter_table('staff_badges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_badges_user_id'), ['user_id'], unique=False)
    op.create_table('login_sessions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('ended_at', sa.BigInteger(), nullable=True),
    sa.Column('ended_reason', sa.String(length=40), nullable=True),
    sa.Column('address', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_login_sessions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_sessions'))
    )
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_sessions_user_id'), ['user_id'], unique=False)


def downgrade():
    op.drop_table('login_sessions')
    op.drop_table('staff_badges')
    op.drop_table('role_spans')
    with op.batch_alter_table('users', schema=None) as batch_op:
        for name in ('pin_locked_until', 'pin_failures', 'pin_set_at', 'pin_key', 'pin_salt'):
            batch_op.drop_column(name)
    with op.batch_alter_table('sync_quarantine', schema=None) as batch_op:
        batch_op.drop_column('pushed_by')
    with op.batch_alter_table('sync_events', schema=None) as batch_op:
        batch_op.drop_column('pushed_by')
    with op.batch_alter_table('sync_devices', schema=None) as batch_op:
        batch_op.drop_column('session_id')
        batch_op.drop_column('secret_hash')
        batch_op.drop_column('kind')
