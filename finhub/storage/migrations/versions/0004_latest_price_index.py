"""Latest price by index-only scans on PostgreSQL: the unique key carries price and validation status.

The narrow latest-price query (price, time, status per symbol) then reads only the index, not the
table. SQLite has no INCLUDE and already meets its target: nothing changes there.

Revision ID: 0004_latest_price_index
Revises: 0003_daily_levels
Create Date: 2026-11-25
"""
from alembic import op

revision = "0004_latest_price_index"
down_revision = "0003_daily_levels"
branch_labels = None
depends_on = None

_TABLE = "assets_assetpriceshistoric"
_KEY = "uq_prices_symbol_interval_timestamp"


def _rebuild_key(include: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # One statement, so the table is never without its unique key (ON CONFLICT needs it).
    op.execute(f"ALTER TABLE {_TABLE} DROP CONSTRAINT {_KEY}, "
               f"ADD CONSTRAINT {_KEY} UNIQUE (symbol, interval, timestamp){include}")


def upgrade() -> None:
    _rebuild_key(" INCLUDE (price, validation_status)")


def downgrade() -> None:
    _rebuild_key("")
