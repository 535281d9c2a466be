"""Daily levels: per asset and trading day, OHLC and the next day's pivot levels.

Revision ID: 0003_daily_levels
Revises: 0002
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

from finhub.storage.schema import UTCDateTime

revision = "0003_daily_levels"
down_revision = "0002"
branch_labels = None
depends_on = None

_id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_LEVELS = ("open", "high", "low", "close", "pp", "r1", "r2", "s1", "s2")


def upgrade() -> None:
    op.create_table(
        "assets_dailylevels",
        sa.Column("id", _id, primary_key=True, autoincrement=True),
        sa.Column("symbol", sa.String(20), nullable=False),
        sa.Column("asset_type", sa.String(10), nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        *(sa.Column(name, sa.Float, nullable=False) for name in _LEVELS),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("symbol", "day", name="uq_dailylevels_symbol_day"),
    )


def downgrade() -> None:
    op.drop_table("assets_dailylevels")
