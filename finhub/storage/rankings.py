"""Timestamped snapshots of crypto rankings (top by market cap, trending)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine, Table, func, select

from finhub.storage.engine import insert
from finhub.storage.schema import UTC_TIME, top_cryptos, trending_cryptos

TABLES = {"top": top_cryptos, "trending": trending_cryptos}
_FIELDS = ("rank", "coingecko_id", "symbol", "name", "price", "market_cap", "volume_24h")


def store_snapshot(engine: Engine, kind: str, snapshot_at: datetime, coins: Sequence) -> int:
    """Store one snapshot (``coins``: objects with the ranking fields); a redelivery rewrites it."""
    table: Table = TABLES[kind]
    if not coins:
        return 0
    rows = [{"snapshot_at": snapshot_at, **{f: getattr(c, f) for f in _FIELDS}} for c in coins]
    stmt = insert(table, engine.dialect)
    stmt = stmt.on_conflict_do_update(index_elements=["snapshot_at", "coingecko_id"],
                                      set_={f: getattr(stmt.excluded, f) for f in _FIELDS})
    with engine.begin() as connection:
        connection.execute(stmt, rows)
    return len(rows)


def latest_snapshot(engine: Engine, kind: str) -> tuple[datetime | None, list[dict]]:
    """The newest snapshot of ``kind``, ranked."""
    table: Table = TABLES[kind]
    with engine.connect() as connection:
        newest = connection.execute(select(func.max(table.c.snapshot_at))).scalar()
        if newest is None:
            return None, []
        newest = UTC_TIME.process_result_value(newest, engine.dialect) \
            if isinstance(newest, str) else newest
        rows = connection.execute(select(table).where(table.c.snapshot_at == newest).order_by(table.c.rank))
        return newest, [dict(r) for r in rows.mappings()]
