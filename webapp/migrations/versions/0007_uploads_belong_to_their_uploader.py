"""unfinished uploads belong to their uploader and expire; a daily upload quota per device

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 12:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('blobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('uploader', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('touched_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_blobs_uploader'), ['uploader'], unique=False)
    # Partial uploads from before: nobody's (anyone may go on), and as old as their first chunk.
    op.execute("UPDATE blobs SET touched_at = created_at WHERE complete = false")
    op.create_table('upload_usage',
    sa.Column('uploader', sa.String(length=60), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('bytes_received', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('uploader', 'day', name=op.f('pk_upload_usage'))
    )


def downgrade():
    op.drop_table('upload_usage')
    with op.batch_alter_table('blobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_blobs_uploader'))
        batch_op.drop_column('touched_at')
        batch_op.drop_column('uploader')
