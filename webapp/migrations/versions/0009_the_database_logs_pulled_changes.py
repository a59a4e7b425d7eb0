"""the database logs every change of a pulled table (triggers), whatever wrote it

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 09:00:00

"""
from alembic import op

from sync.changelog import install_ddl, uninstall_ddl


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# The tables pull followed at this revision, written out: (entity in the change log, table, key
# column). A pull source added later brings its own migration.
FOLLOWED = [
    ("bin", "bins", "code"),
    ("operation", "operations", "code"),
    ("location", "locations", "code"),
    ("product", "products", "code"),
    ("work_order", "work_orders", "number"),
    ("user", "users", "username"),
    ("transfer", "transfers", "number"),
    ("inspection", "inspections", "id"),
    ("setting", "settings", "key"),
]


def upgrade():
    # Rows already in the tables were logged by the app when they were written: nothing to backfill.
    for statement in install_ddl(op.get_bind().dialect.name, FOLLOWED):
        op.execute(statement)


def downgrade():
    for statement in uninstall_ddl(op.get_bind().dialect.name, FOLLOWED):
        op.execute(statement)
