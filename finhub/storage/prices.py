"""Writing and reading the price history: idempotent bulk upserts and index-only lookups."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone

from sqlalchemy import Engine, bindparam, func, select, text
from sqlalchemy.dialects import postgresql, sqlite

from finhub.storage.schema import ASSET_TYPES, INTERVALS, PRICE_FIELDS, VALIDATION_STATUSES, prices

#: Rows deleted per transaction by the retention clean-up, so no write lock is held for long.
DELETE_BATCH = 5000

_UPDATED = tuple(c for c in PRICE_FIELDS if c not in ("symbol", "interval", "timestamp")) + ("updated_at",)

# Every distinct symbol by a loose index scan (one index seek each, not a scan of every row),
# then each symbol's newest row of the interval by one more seek.
_LATEST = text("""
WITH RECURSIVE symbols(symbol) AS (
    SELECT MIN(symbol) FROM assets_assetpriceshistoric
    UNION ALL
    SELECT (SELECT MIN(p.symbol) FROM assets_assetpriceshistoric p WHERE p.symbol > symbols.symbol)
    FROM symbols WHERE symbols.symbol IS NOT NULL
)
SELECT (SELECT p.id FROM assets_assetpriceshistoric p
        WHERE p.symbol = symbols.symbol AND p.interval = :interval
        ORDER BY p.timestamp DESC LIMIT 1) AS id
FROM symbols WHERE symbols.symbol IS NOT NULL
""")


def check_row(row: Mapping) -> None:
    """Raise ``ValueError`` naming the problem if ``row`` must not be stored."""
    missing = [c for c in ("symbol", "asset_type", "interval", "timestamp", "price", "source") if row.get(c) is None]
    if missing:
        raise ValueError(f"price row lacks {', '.join(missing)}: {dict(row)!r:.200}")
    symbol = row["symbol"]
    price = row["price"]
    if isinstance(price, bool) or not isinstance(price, (int, float)) or not math.isfinite(price) or price <= 0:
        raise ValueError(f"{symbol}: price must be finite and positive, got {price!r}")
    for column, allowed in (("asset_type", ASSET_TYPES), ("interval", INTERVALS),
                            ("validation_status", VALIDATION_STATUSES)):
        if row.get(column, "single_source") not in allowed:
            raise ValueError(f"{symbol}: {column} must be one of {allowed}, got {row.get(column)!r}")
    stamp = row["timestamp"]
    if not isinstance(stamp, datetime) or stamp.tzinfo is None:
        raise ValueError(f"{symbol}: timestamp must be a timezone-aware datetime, got {stamp!r}")


def _insert(engine: Engine):
    return postgresql.insert(prices) if engine.dialect.name == "postgresql" else sqlite.insert(prices)


def upsert_prices(engine: Engine, rows: Sequence[Mapping]) -> int:
    """Insert or update ``rows`` (keyed by column name) in one statement; returns rows written.

    The natural key is (symbol, interval, timestamp): writing the same rows twice stores nothing
    twice and leaves the newest values. Every row is checked before anything is written.
    """
    if not rows:
        return 0
    for row in rows:
        check_row(row)
    now = datetime.now(timezone.utc)
    values = [
        {**{c: row.get(c) for c in PRICE_FIELDS},
         "validation_status": row.get("validation_status") or "single_source",
         "sources": row.get("sources") or row["source"],
         "created_at": now, "updated_at": now}
        for row in rows
    ]
    stmt = _insert(engine)
    stmt = stmt.on_conflict_do_update(
        index_elements=["symbol", "interval", "timestamp"],
        set_={c: getattr(stmt.excluded, c) for c in _UPDATED},
    )
    with engine.begin() as connection:
        connection.execute(stmt, values)
    return len(values)


def latest_prices(engine: Engine, interval: str = "quote", symbols: Iterable[str] | None = None) -> dict[str, dict]:
    """The newest row of ``interval`` per symbol (optionally only ``symbols``), keyed by symbol."""
    with engine.connect() as connection:
        ids = [i for (i,) in connection.execute(_LATEST, {"interval": interval}) if i is not None]
        if not ids:
            return {}
        rows = connection.execute(select(prices).where(prices.c.id.in_(bindparam("ids", expanding=True))),
                                  {"ids": ids}).mappings()
        wanted = None if symbols is None else set(symbols)
        return {r["symbol"]: dict(r) for r in rows if wanted is None or r["symbol"] in wanted}


def last_timestamp(engine: Engine, symbol: str, interval: str) -> datetime | None:
    """The market time of the newest stored row for (symbol, interval), to resume from."""
    query = select(func.max(prices.c.timestamp)).where(prices.c.symbol == symbol, prices.c.interval == interval)
    with engine.connect() as connection:
        value = connection.execute(query).scalar()
    return prices.c.timestamp.type.process_result_value(value, engine.dialect) if isinstance(value, str) else value


def last_timestamps(engine: Engine, interval: str) -> dict[str, datetime]:
    """The newest stored market time of ``interval`` for every symbol that has one."""
    return {symbol: row["timestamp"] for symbol, row in latest_prices(engine, interval).items()}


def delete_older_than(engine: Engine, cutoff: datetime, batch: int = DELETE_BATCH) -> int:
    """Delete rows whose market time is before ``cutoff``, ``batch`` rows a transaction."""
    doomed = select(prices.c.id).where(prices.c.timestamp < cutoff).limit(batch).scalar_subquery()
    deleted = 0
    while True:
        with engine.begin() as connection:
            count = connection.execute(prices.delete().where(prices.c.id.in_(doomed))).rowcount
        deleted += count
        if count < batch:
            return deleted


def summary(engine: Engine) -> dict[str, tuple[int, datetime | None]]:
    """Rows and newest market time per asset type, for ``status``."""
    query = select(prices.c.asset_type, func.count(), func.max(prices.c.timestamp)).group_by(prices.c.asset_type)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    convert = prices.c.timestamp.type.process_result_value
    return {t: (n, convert(latest, engine.dialect) if isinstance(latest, str) else latest) for t, n, latest in rows}
