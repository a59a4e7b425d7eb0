"""inspections made on devices: their log, checklists, defect catalogue, quality plans, series, rework, packing

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 00:30:00

"""

import sqlalchemy as sa
from alembic import op

from sync.changelog import create_triggers_ddl, drop_triggers_ddl, install_ddl

# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

# Plain ADD COLUMN (no batch copy): SQLite keeps the change-log triggers of these tables.
INSPECTION_COLUMNS = [
    ('uid', sa.String(length=36)),
    ('product_id', sa.Integer()),
    ('template_code', sa.String(length=40)),
    ('level', sa.String(length=4)),
    ('severity', sa.String(length=12)),
    ('supplier', sa.String(length=120)),
    ('aqls', sa.JSON()),
    ('plans', sa.JSON()),
    ('units', sa.Integer()),
    ('cartons', sa.JSON()),
    ('results', sa.JSON()),
    ('out_of_tolerance', sa.Integer()),
    ('found', sa.JSON()),
    ('verdict', sa.String(length=10)),
    ('decision', sa.String(length=10)),
    ('note', sa.Text()),
    ('completed_by', sa.Integer()),
    ('device_id', sa.String(length=36)),
    ('reinspects', sa.String(length=36)),
    ('rework_status', sa.String(length=20)),
]
DEFECT_COLUMNS = [
    ('defect_uid', sa.String(length=36)),
    ('inspection_uid', sa.String(length=36)),
    ('type_code', sa.String(length=40)),
    ('location', sa.String(length=120)),
    ('unit', sa.Integer()),
    ('note', sa.Text()),
    ('photos', sa.JSON()),
    ('markup', sa.JSON()),
    ('device_id', sa.String(length=36)),
]
ORDER_COLUMNS = [
    ('factory', sa.String(length=120), None),
    ('packed', sa.Integer(), '0'),
    ('cartons', sa.Integer(), '0'),
    ('quality', sa.JSON(), None),
]
# New tables devices pull, and the inspections now keyed by the id their device made.
FOLLOWED = [
    ("inspection_template", "inspection_templates", "code"),
    ("defect_type", "defect_types", "code"),
    ("reference", "reference_tables", "key"),
]


def upgrade():
    dialect = op.get_bind().dialect.name
    for name, type_ in INSPECTION_COLUMNS:
        op.add_column('inspections', sa.Column(name, type_, nullable=True))
    op.create_index('ix_inspections_uid', 'inspections', ['uid'], unique=True)
    for name, type_ in DEFECT_COLUMNS:
        op.add_column('defects', sa.Column(name, type_, nullable=True))
    op.create_index('ix_defects_defect_uid', 'defects', ['defect_uid'], unique=True)
    op.create_index('ix_defects_inspection_uid', 'defects', ['inspection_uid'])
    for name, type_, default in ORDER_COLUMNS:
        op.add_column('work_orders', sa.Column(name, type_, nullable=default is None, server_default=default))
    op.create_table(
        'inspection_log',
        sa.Column('event_id', sa.String(length=36), nullable=False),
        sa.Column('inspection_uid', sa.String(length=36), nullable=False),
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
    op.create_index('ix_inspection_log_inspection_uid', 'inspection_log', ['inspection_uid'])
    op.create_table(
        'inspection_templates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=40), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=30), nullable=False),
        sa.Column('name_zh', sa.String(length=120), nullable=False),
        sa.Column('name_en', sa.String(length=120), nullable=False),
        sa.Column('units', sa.Integer(), nullable=False),
        sa.Column('items', sa.JSON(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['product_id'], ['products.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code'),
    )
    op.create_table(
        'defect_types',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=40), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=True),
        sa.Column('name_zh', sa.String(length=120), nullable=False),
        sa.Column('name_en', sa.String(length=120), nullable=False),
        sa.Column('default_class', sa.String(length=10), nullable=False),
        sa.Column('description_zh', sa.Text(), nullable=True),
        sa.Column('description_en', sa.Text(), nullable=True),
        sa.Column('reference_sha256', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(['product_id'], ['products.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code'),
    )
    op.create_table(
        'quality_plans',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=True),
        sa.Column('customer', sa.String(length=120), nullable=True),
        sa.Column('level', sa.String(length=4), nullable=False),
        sa.Column('aql_critical', sa.String(length=10), nullable=False),
        sa.Column('aql_major', sa.String(length=10), nullable=False),
        sa.Column('aql_minor', sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(['product_id'], ['products.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('product_id', 'customer'),
    )
    op.create_table(
        'sampling_series',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('supplier', sa.String(length=120), nullable=False),
        sa.Column('reduced_approved', sa.Boolean(), nullable=False),
        sa.Column('production_steady', sa.Boolean(), nullable=False),
        sa.Column('resumed_at', sa.DateTime(), nullable=True),
        sa.Column('updated_by', sa.Integer(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['product_id'], ['products.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('product_id', 'supplier'),
    )
    op.create_table(
        'rework_orders',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('inspection_uid', sa.String(length=36), nullable=False),
        sa.Column('work_order_id', sa.Integer(), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('opened_at', sa.DateTime(), nullable=False),
        sa.Column('reinspection_uid', sa.String(length=36), nullable=True),
        sa.Column('closed_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['work_order_id'], ['work_orders.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('inspection_uid'),
    )
    op.create_index('ix_rework_orders_work_order_id', 'rework_orders', ['work_order_id'])
    op.create_table(
        'packing_records',
        sa.Column('event_id', sa.String(length=36), nullable=False),
        sa.Column('work_order_id', sa.Integer(), nullable=False),
        sa.Column('cartons', sa.Integer(), nullable=False),
        sa.Column('per_carton', sa.Integer(), nullable=False),
        sa.Column('pieces', sa.Integer(), nullable=False),
        sa.Column('first_carton', sa.Integer(), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('recorded_by', sa.Integer(), nullable=False),
        sa.Column('device_id', sa.String(length=36), nullable=False),
        sa.Column('seq', sa.BigInteger(), nullable=False),
        sa.Column('effective_at', sa.BigInteger(), nullable=False),
        sa.Column('recorded_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['work_order_id'], ['work_orders.id']),
        sa.PrimaryKeyConstraint('event_id'),
    )
    op.create_index('ix_packing_records_work_order_id', 'packing_records', ['work_order_id'])
    op.create_table(
        'reference_tables',
        sa.Column('key', sa.String(length=20), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )
    # Devices now know an inspection by the id its device made, not the server's row number.
    for statement in drop_triggers_ddl(dialect, 'inspections'):
        op.execute(statement)
    for statement in create_triggers_ddl(dialect, 'inspection', 'inspections', 'uid'):
        op.execute(statement)
    for statement in install_ddl(dialect, FOLLOWED):
        op.execute(statement)
    op.execute("INSERT INTO reference_tables (key, version) VALUES ('aql', 1)")


def downgrade():
    dialect = op.get_bind().dialect.name
    for _entity, table, _key in FOLLOWED:  # the shared function stays: other tables use it
        for statement in drop_triggers_ddl(dialect, table):
            op.execute(statement)
    for statement in drop_triggers_ddl(dialect, 'inspections'):
        op.execute(statement)
    for statement in create_triggers_ddl(dialect, 'inspection', 'inspections', 'id'):
        op.execute(statement)
    for table in ('reference_tables', 'packing_records', 'rework_orders', 'sampling_series', 'quality_plans',
                  'defect_types', 'inspection_templates', 'inspection_log'):
        op.drop_table(table)
    for name, _, _ in reversed(ORDER_COLUMNS):
        op.drop_column('work_orders', name)
    op.drop_index('ix_defects_inspection_uid', table_name='defects')
    op.drop_index('ix_defects_defect_uid', table_name='defects')
    for name, _ in reversed(DEFECT_COLUMNS):
        op.drop_column('defects', name)
    op.drop_index('ix_inspections_uid', table_name='inspections')
    for name, _ in reversed(INSPECTION_COLUMNS):
        op.drop_column('inspections', name)
