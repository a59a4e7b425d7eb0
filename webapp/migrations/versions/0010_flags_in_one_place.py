"""flags in one place: sync_exceptions keeps every flag (withdrawn ones marked), sync_events no copy

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 19:00:00

"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# What a late move's re-judging wrote as it closed a flag it withdrew (webapp/services/moving.py).
WITHDRAWN_NOTE = 'a move earlier in the log arrived late'


def upgrade():
    with op.batch_alter_table('sync_exceptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('withdrawn', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.execute(sa.text("UPDATE sync_exceptions SET withdrawn = :yes WHERE resolution_note = :note")
               .bindparams(yes=True, note=WITHDRAWN_NOTE))
    with op.batch_alter_table('sync_events', schema=None) as batch_op:
        batch_op.drop_column('exceptions')


def downgrade():
    with op.batch_alter_table('sync_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('exceptions', sa.JSON(), nullable=False, server_default='[]'))
    # The copy on each event is made again from the flags that are not withdrawn.
    bind = op.get_bind()
    x = sa.table('sync_exceptions', sa.column('event_id'), sa.column('code'), sa.column('detail'),
                 sa.column('withdrawn'), sa.column('id'))
    e = sa.table('sync_events', sa.column('id'), sa.column('exceptions', sa.JSON()))
    flags: dict = {}
    for row in bind.execute(sa.select(x.c.event_id, x.c.code, x.c.detail)
                            .where(x.c.event_id.is_not(None), x.c.withdrawn.is_(False)).order_by(x.c.id)):
        flags.setdefault(row.event_id, []).append({"code": row.code, **(row.detail or {})})
    for event_id, found in flags.items():
        bind.execute(sa.update(e).where(e.c.id == event_id).values(exceptions=found))
    with op.batch_alter_table('sync_exceptions', schema=None) as batch_op:
        batch_op.drop_column('withdrawn')
