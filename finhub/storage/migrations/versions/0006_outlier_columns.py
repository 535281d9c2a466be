"""The source a validation set aside, and its price: ``outlier_source`` and ``outlier_price``.

On a validated row whose sources disagreed (a third source, or the last good price, settled it),
they name the provider whose price was left out and that price; NULL otherwise. Added to the
history and to its copies of the newest rows (their columns are the same).

Revision ID: 0006_outlier_columns
Revises: 0005_latest_price_table
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_outlier_columns"
down_revision = "0005_latest_price_table"
branch_labels = None
depends_on = None

_TABLES = ("assets_assetpriceshistoric", "assets_latestprice")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("outlier_source", sa.String(20)))
            batch.add_column(sa.Column("outlier_price", sa.Float))


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("outlier_price")
            batch.drop_column("outlier_source")
