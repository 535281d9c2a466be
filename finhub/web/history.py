"""Reading one symbol's stored rows for the API's pages and the dashboard's chart: range scans over
the history's unique (symbol, interval, timestamp) index."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select

from finhub.storage.schema import prices

#: What a page and a chart point carry.
COLUMNS = ("symbol", "asset_type", "interval", "timestamp", "price", "open", "high", "low", "volume", "market_cap",
           "source", "validation_status", "sources", "max_deviation_pct")


def page(engine: Engine, symbol: str, interval: str, start: datetime | None, end: datetime | None,
         after: datetime | None, limit: int) -> tuple[list[dict], bool]:
    """Up to ``limit`` rows of (symbol, interval) in [start, end) after ``after``, oldest first, and
    whether more follow."""
    query = select(*(prices.c[c] for c in COLUMNS)).where(prices.c.symbol == symbol, prices.c.interval == interval)
    if start is not None:
        query = query.where(prices.c.timestamp >= start)
    if end is not None:
        query = query.where(prices.c.timestamp < end)
    if after is not None:
        query = query.where(prices.c.timestamp > after)
    with engine.connect() as connection:
        rows = [dict(r) for r in connection.execute(query.order_by(prices.c.timestamp).limit(limit + 1)).mappings()]
    return rows[:limit], len(rows) > limit


def series(engine: Engine, symbol: str, interval: str, start: datetime, points: int) -> list[dict]:
    """(symbol, interval)'s rows from ``start`` on, thinned to at most ``points`` evenly spaced rows
    (the newest always kept)."""
    query = (select(prices.c.timestamp, prices.c.price, prices.c.open, prices.c.high, prices.c.low,
                    prices.c.validation_status, prices.c.source)
             .where(prices.c.symbol == symbol, prices.c.interval == interval, prices.c.timestamp >= start)
             .order_by(prices.c.timestamp))
    with engine.connect() as connection:
        rows = [dict(r) for r in connection.execute(query).mappings()]
    if len(rows) <= points:
        return rows
    step = len(rows) / points
    return [rows[int(i * step)] for i in range(points - 1)] + [rows[-1]]
