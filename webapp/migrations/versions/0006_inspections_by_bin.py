"""inspections are looked up by bin (the bin page lists its open ones)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 17:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspections_bin_id'), ['bin_id'], unique=False)


def downgrade():
    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspections_bin_id'))
