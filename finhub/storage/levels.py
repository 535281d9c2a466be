"""The daily-levels table: per asset and trading day, OHLC and the next day's pivots."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
from sqlalchemy import Engine, select

from finhub.storage.engine import insert
from finhub.storage.schema import daily_levels, prices

#: The columns of a day's levels, as :func:`finhub.jobs.aggregation.daily_levels` computes them.
LEVELS = ("open", "high", "low", "close", "pp", "r1", "r2", "s1", "s2")
#: Rows that describe a day's trading (weekly bars span several days).
DAILY_INTERVALS = ("quote", "1h", "1d")


def prices_since(engine: Engine, symbol: str, since: datetime | None) -> pd.DataFrame:
    """``symbol``'s quotes and intraday/daily bars from ``since`` on (all when None), oldest first."""
    query = select(prices.c.timestamp, prices.c.interval, prices.c.price, prices.c.open, prices.c.high,
                   prices.c.low).where(
        prices.c.symbol == symbol, prices.c.interval.in_(DAILY_INTERVALS)).order_by(prices.c.timestamp)
    if since is not None:
        query = query.where(prices.c.timestamp >= since)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return pd.DataFrame(rows, columns=["timestamp", "interval", "price", "open", "high", "low"])


def upsert_levels(engine: Engine, symbol: str, asset_type: str, levels: pd.DataFrame) -> int:
    """Insert or update one row per day of ``levels`` (indexed by date); returns rows written."""
    if levels.empty:
        return 0
    stamp = datetime.now(UTC)
    rows = [{"symbol": symbol, "asset_type": asset_type, "day": day, "updated_at": stamp,
             **{c: float(row[c]) for c in LEVELS}} for day, row in levels.iterrows()]
    stmt = insert(daily_levels, engine.dialect)
    stmt = stmt.on_conflict_do_update(index_elements=["symbol", "day"],
                                      set_={c: getattr(stmt.excluded, c) for c in (*LEVELS, "updated_at")})
    with engine.begin() as connection:
        connection.execute(stmt, rows)
    return len(rows)


def stored_levels(engine: Engine, symbol: str, since: date | None = None) -> list[dict]:
    """``symbol``'s stored daily levels, oldest day first."""
    query = select(daily_levels).where(daily_levels.c.symbol == symbol).order_by(daily_levels.c.day)
    if since is not None:
        query = query.where(daily_levels.c.day >= since)
    with engine.connect() as connection:
        return [dict(r) for r in connection.execute(query).mappings()]


def levels_stored(engine: Engine) -> bool:
    """Whether any daily level is stored yet (the first aggregation covers the whole history)."""
    with engine.connect() as connection:
        return connection.execute(select(daily_levels.c.id).limit(1)).first() is not None
