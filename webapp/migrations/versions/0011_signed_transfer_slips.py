"""signed transfer slips: the slip's log, its bins, what its signatures signed and how they stand

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 21:00:00

"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# Plain ADD COLUMN (no batch copy): SQLite keeps the change-log triggers of `transfers`.
TRANSFER_COLUMNS = [
    ('content_hash', sa.String(length=64)),
    ('quantity_received', sa.Integer()),
    ('scrap_quantity', sa.Integer()),
    ('custodian_id', sa.Integer()),
    ('moved_event_id', sa.String(length=36)),
    ('refused_reason', sa.Text()),
]
SIGNATURE_COLUMNS = [
    ('content_hash', sa.String(length=64)),
    ('verdict', sa.String(length=10)),
    ('verification', sa.String(length=20)),
    ('state', sa.String(length=20)),
]


def upgrade():
    op.create_table(
        'transfer_log',
        sa.Column('event_id', sa.String(length=36), nullable=False),
        sa.Column('slip_id', sa.String(length=36), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('effective_at', sa.BigInteger(), nullable=False),
        sa.Column('device_id', sa.String(length=36), nullable=False),
        sa.Column('seq', sa.BigInteger(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=True),
        sa.Column('verification', sa.String(length=20), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('event_id'),
    )
    op.create_index('ix_transfer_log_slip_id', 'transfer_log', ['slip_id'])
    op.create_table(
        'transfer_bins',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('transfer_id', sa.Integer(), nullable=False),
        sa.Column('bin_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['bin_id'], ['bins.id']),
        sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('transfer_id', 'bin_id'),
    )
    op.create_index('ix_transfer_bins_transfer_id', 'transfer_bins', ['transfer_id'])
    op.create_index('ix_transfer_bins_bin_id', 'transfer_bins', ['bin_id'])
    for name, type_ in TRANSFER_COLUMNS:
        op.add_column('transfers', sa.Column(name, type_, nullable=True))
    for name, type_ in SIGNATURE_COLUMNS:
        op.add_column('signatures', sa.Column(name, type_, nullable=True))


def downgrade():
    for name, _ in reversed(SIGNATURE_COLUMNS):
        op.drop_column('signatures', name)
    for name, _ in reversed(TRANSFER_COLUMNS):
        op.drop_column('transfers', name)
    op.drop_index('ix_transfer_bins_bin_id', table_name='transfer_bins')
    op.drop_index('ix_transfer_bins_transfer_id', table_name='transfer_bins')
    op.drop_table('transfer_bins')
    op.drop_index('ix_transfer_log_slip_id', table_name='transfer_log')
    op.drop_table('transfer_log')
