"""Snapshots of the top cryptos by market cap and of CoinGecko's trending list.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

from finhub.storage.schema import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    for table in ("assets_topcrypto", "assets_trendingcrypto"):
        op.create_table(
            table,
            sa.Column("id", _id, primary_key=True, autoincrement=True),
            sa.Column("snapshot_at", UTCDateTime(), nullable=False),
            sa.Column("rank", sa.Integer, nullable=False),
            sa.Column("coingecko_id", sa.String(100), nullable=False),
            sa.Column("symbol", sa.String(40), nullable=False),
            sa.Column("name", sa.String(200), nullable=False),
            sa.Column("price", sa.Float),
            sa.Column("market_cap", sa.Float),
            sa.Column("volume_24h", sa.Float),
            sa.UniqueConstraint("snapshot_at", "coingecko_id", name=f"uq_{table}_snapshot_coin"),
        )
        op.create_index(f"ix_{table}_snapshot_at", table, ["snapshot_at"])


def downgrade() -> None:
    op.drop_table("assets_trendingcrypto")
    op.drop_table("assets_topcrypto")
