"""Latest price table: a copy of each (symbol, interval)'s newest history row, filled from the history.

From this revision on every write to the history keeps it (finhub.storage.prices). Filling it reads
the unique index once (a few seconds at 10M rows). Workers of an older version write history
without copies: once every worker runs this version, ``python -m finhub prices --refresh`` copies
what they wrote meanwhile.

Revision ID: 0005_latest_price_table
Revises: 0004_latest_price_index
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

from finhub.storage.schema import UTCDateTime

revision = "0005_latest_price_table"
down_revision = "0004_latest_price_index"
branch_labels = None
depends_on = None

_COLUMNS = ("symbol", "interval", "asset_type", "timestamp", "price", "open", "high", "low", "volume", "market_cap",
            "source", "validation_status", "sources", "max_deviation_pct", "created_at", "updated_at")


def upgrade() -> None:
    op.create_table(
        "assets_latestprice",
        sa.Column("symbol", sa.String(20), primary_key=True),
        sa.Column("interval", sa.String(8), primary_key=True),
        sa.Column("asset_type", sa.String(10), nullable=False),
        sa.Column("timestamp", UTCDateTime(), nullable=False),
        sa.Column("price", sa.Float, nullable=False),
        *(sa.Column(name, sa.Float) for name in ("open", "high", "low", "volume", "market_cap")),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("validation_status", sa.String(16), nullable=False),
        sa.Column("sources", sa.String(100), nullable=False),
        sa.Column("max_deviation_pct", sa.Float),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    columns = ", ".join(_COLUMNS)
    op.execute(f"""
        INSERT INTO assets_latestprice ({columns})
        SELECT {", ".join(f"p.{c}" for c in _COLUMNS)} FROM assets_assetpriceshistoric p JOIN (
            SELECT symbol, interval, MAX(timestamp) AS newest FROM assets_assetpriceshistoric
            GROUP BY symbol, interval) n
        ON p.symbol = n.symbol AND p.interval = n.interval AND p.timestamp = n.newest""")


def downgrade() -> None:
    op.drop_table("assets_latestprice")
