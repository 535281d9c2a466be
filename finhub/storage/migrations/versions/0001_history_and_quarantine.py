"""The price history and the quarantine of rejected observations.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

from finhub.storage.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "assets_assetpriceshistoric",
        sa.Column("id", _id, primary_key=True, autoincrement=True),
        sa.Column("symbol", sa.String(20), nullable=False),
        sa.Column("asset_type", sa.String(10), nullable=False),
        sa.Column("interval", sa.String(8), nullable=False),
        sa.Column("timestamp", UTCDateTime(), nullable=False),
        sa.Column("price", sa.Float, nullable=False),
        sa.Column("open", sa.Float),
        sa.Column("high", sa.Float),
        sa.Column("low", sa.Float),
        sa.Column("volume", sa.Float),
        sa.Column("market_cap", sa.Float),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("validation_status", sa.String(16), nullable=False),
        sa.Column("sources", sa.String(100), nullable=False),
        sa.Column("max_deviation_pct", sa.Float),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("symbol", "interval", "timestamp", name="uq_prices_symbol_interval_timestamp"),
    )
    op.create_index("ix_prices_timestamp", "assets_assetpriceshistoric", ["timestamp"])
    op.create_table(
        "assets_pricequarantine",
        sa.Column("id", _id, primary_key=True, autoincrement=True),
        sa.Column("symbol", sa.String(20), nullable=False),
        sa.Column("asset_type", sa.String(10), nullable=False),
        sa.Column("interval", sa.String(8), nullable=False),
        sa.Column("timestamp", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("observations", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("symbol", "interval", "timestamp", name="uq_quarantine_symbol_interval_timestamp"),
    )
    op.create_index("ix_quarantine_created_at", "assets_pricequarantine", ["created_at"])


def downgrade() -> None:
    op.drop_table("assets_pricequarantine")
    op.drop_table("assets_assetpriceshistoric")
