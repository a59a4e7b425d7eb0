"""warehouse slips and stocktakes made on devices: their ids, parties, voids, expected bins, approval

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 21:40:00

"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

SLIP_COLUMNS = [
    ('party', sa.String(length=120)),
    ('location_id', sa.Integer()),
    ('note', sa.Text()),
    ('voided_by', sa.Integer()),
    ('voided_at', sa.DateTime()),
    ('void_reason', sa.Text()),
]
STOCKTAKE_COLUMNS = [
    ('status', sa.String(length=20)),
    ('expected', sa.JSON()),
    ('approved_by', sa.Integer()),
    ('approved_at', sa.DateTime()),
]


def upgrade():
    # Neither table is followed by the change log, so a batch copy on SQLite loses no trigger.
    with op.batch_alter_table('warehouse_slips') as batch_op:
        batch_op.add_column(sa.Column('slip_id', sa.String(length=36), nullable=True))
        for name, type_ in SLIP_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
        batch_op.create_unique_constraint('uq_warehouse_slips_slip_id', ['slip_id'])
    with op.batch_alter_table('stocktakes') as batch_op:
        batch_op.add_column(sa.Column('stocktake_uuid', sa.String(length=36), nullable=True))
        for name, type_ in STOCKTAKE_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
        batch_op.create_unique_constraint('uq_stocktakes_stocktake_uuid', ['stocktake_uuid'])


def downgrade():
    with op.batch_alter_table('stocktakes') as batch_op:
        batch_op.drop_constraint('uq_stocktakes_stocktake_uuid', type_='unique')
        for name, _ in reversed(STOCKTAKE_COLUMNS):
            batch_op.drop_column(name)
        batch_op.drop_column('stocktake_uuid')
    with op.batch_alter_table('warehouse_slips') as batch_op:
        batch_op.drop_constraint('uq_warehouse_slips_slip_id', type_='unique')
        for name, _ in reversed(SLIP_COLUMNS):
            batch_op.drop_column(name)
        batch_op.drop_column('slip_id')
