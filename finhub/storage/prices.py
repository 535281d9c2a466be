"""Writing and reading the price history: idempotent bulk upserts, and the newest row per symbol."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache, partial
from typing import NamedTuple

from sqlalchemy import Connection, Engine, Float, Table, bindparam, case, func, select, text, tuple_

from finhub.model import INTERVALS
from finhub.storage.engine import insert
from finhub.storage.partitions import ensure_partitions
from finhub.storage.schema import (
    ASSET_TYPES,
    PRICE_FIELDS,
    UTC_TIME,
    VALIDATION_STATUSES,
    UTCDateTime,
    latest,
    prices,
)

#: Rows deleted per transaction by the retention clean-up, so no write lock is held for long.
DELETE_BATCH = 5000

_COLUMNS = PRICE_FIELDS + ("created_at", "updated_at")
_UPDATED = tuple(c for c in _COLUMNS if c not in ("symbol", "interval", "timestamp", "created_at"))

_GIVEN_SYMBOLS = {
    "postgresql": " AND l.symbol = ANY(CAST(:symbols AS text[]))",
    "sqlite": " AND l.symbol IN (SELECT value FROM json_each(:symbols))",
}
# Refilling the copies of the newest rows, for every (symbol, interval) at once: one pass over the
# unique index.
_REFILL_ALL = """
    INSERT INTO assets_latestprice ({columns}) SELECT {prefixed} FROM assets_assetpriceshistoric p JOIN (
        SELECT symbol, interval, MAX(timestamp) AS newest FROM assets_assetpriceshistoric GROUP BY symbol, interval) n
    ON p.symbol = n.symbol AND p.interval = n.interval AND p.timestamp = n.newest"""


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


def _on_conflict(stmt, table: Table):
    """``stmt`` (an insert into ``table``) made an upsert on the table's natural key."""
    new = stmt.excluded
    if table is prices:
        return stmt.on_conflict_do_update(index_elements=["symbol", "interval", "timestamp"],
                                          set_={c: new[c] for c in _UPDATED})
    # A copy is replaced only by the same or a newer moment; the same moment keeps its first write time.
    return stmt.on_conflict_do_update(
        index_elements=["symbol", "interval"],
        set_={**{c: new[c] for c in _UPDATED + ("timestamp",)},
              "created_at": case((new.timestamp == latest.c.timestamp, latest.c.created_at), else_=new.created_at)},
        where=new.timestamp >= latest.c.timestamp)


@cache
def _upsert_statement(dialect, table: Table) -> tuple[str, tuple[str, ...] | None]:
    """The upsert into ``table`` compiled once per dialect: SQL text and, for positional drivers, the bind order."""
    stmt = _on_conflict(insert(table, dialect).values({c: bindparam(c) for c in _COLUMNS}), table)
    compiled = stmt.compile(dialect=dialect)
    return str(compiled), tuple(compiled.positiontup) if compiled.positional else None


def _execute_upsert(connection: Connection, table: Table, values: list[dict]) -> None:
    sql, order = _upsert_statement(connection.dialect, table)
    connection.exec_driver_sql(sql, values if order is None else [tuple(v[name] for name in order) for v in values])


def upsert_prices(engine: Engine, rows: Sequence[Mapping]) -> int:
    """Insert or update ``rows`` (keyed by column name) in one statement; returns rows written.

    The natural key is (symbol, interval, timestamp): writing the same rows twice stores nothing
    twice and leaves the newest values. Every row is checked before anything is written.

    The statement is compiled by SQLAlchemy once and handed to the driver's ``executemany`` with
    values already converted, so a large batch costs little more than the raw driver.
    """
    if not rows:
        return 0
    ensure_partitions(engine, rows)
    with engine.begin() as connection:
        return upsert_prices_on(connection, rows)


def upsert_prices_on(connection: Connection, rows: Sequence[Mapping]) -> int:
    """:func:`upsert_prices` inside the caller's transaction."""
    if not rows:
        return 0
    values = _checked_values(connection, rows)
    _upsert_copies(connection, values)
    _execute_upsert(connection, prices, values)
    return len(values)


def _checked_values(connection: Connection, rows: Sequence[Mapping]) -> list[dict]:
    """``rows`` checked, as the values of every column written, converted for the database."""
    for row in rows:
        check_row(row)
    to_db = partial(UTC_TIME.process_bind_param, dialect=connection.dialect)
    stamp = to_db(datetime.now(UTC))
    return [
        {**{c: row.get(c) for c in PRICE_FIELDS},
         "timestamp": to_db(row["timestamp"]),
         "validation_status": row.get("validation_status") or "single_source",
         "sources": row.get("sources") or row["source"],
         "created_at": stamp, "updated_at": stamp}
        for row in rows
    ]


def _upsert_copies(connection: Connection, values: Sequence[dict]) -> None:
    """Keep the copies of the newest rows: the first write of a transaction that writes history."""
    newest: dict[tuple[str, str], dict] = {}
    for value in values:
        key = (value["symbol"], value["interval"])
        if key not in newest or value["timestamp"] >= newest[key]["timestamp"]:
            newest[key] = value
    # The copies first and in key order: a writer holds its copies' row locks before it touches the
    # history, so two writers cannot deadlock (see lock_latest_on).
    _execute_upsert(connection, latest, [newest[key] for key in sorted(newest)])


#: A write of this many rows or more goes through COPY on PostgreSQL (backfills); live batches upsert.
BULK_ROWS = 2000
_QUOTED = {c: f'"{c}"' if c in ("interval", "timestamp") else c for c in _COLUMNS}
_BULK_INSERT = (f"INSERT INTO assets_assetpriceshistoric ({', '.join(_QUOTED.values())}) "
                f"SELECT {', '.join(_QUOTED.values())} FROM finhub_staging "
                f'ON CONFLICT (symbol, "interval", "timestamp") DO UPDATE SET '
                + ", ".join(f"{_QUOTED[c]} = EXCLUDED.{_QUOTED[c]}" for c in _UPDATED))


_PLAIN_INSERT = (f"INSERT INTO assets_assetpriceshistoric ({', '.join(_QUOTED.values())}) "
                 f"SELECT {', '.join(_QUOTED.values())} FROM finhub_staging")
_STORED_IN_RANGE = ('SELECT EXISTS (SELECT 1 FROM (SELECT DISTINCT symbol, "interval" FROM finhub_staging) k '
                    'JOIN assets_assetpriceshistoric h ON h.symbol = k.symbol AND h."interval" = k."interval" '
                    'AND h."timestamp" BETWEEN %(first)s AND %(last)s)')


def bulk_upsert_prices(engine: Engine, rows: Sequence[Mapping]) -> int:
    """:func:`upsert_prices` for large writes: on PostgreSQL, from :data:`BULK_ROWS` rows on, the rows
    go by COPY into a temporary staging table and from there into the history in one
    ``INSERT … ON CONFLICT`` (psycopg's binary ``copy``); smaller writes and SQLite upsert as usual.
    Same result: idempotent on (symbol, interval, market time), the copies of the newest rows kept,
    a key given twice stored once (the last given)."""
    if engine.dialect.name != "postgresql" or len(rows) < BULK_ROWS:
        return upsert_prices(engine, rows)
    for row in rows:
        check_row(row)
    ensure_partitions(engine, rows)
    unique = {(r["symbol"], r["interval"], r["timestamp"]): r for r in rows}
    with engine.begin() as connection:
        values = _checked_values(connection, list(unique.values()))
        _upsert_copies(connection, values)
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        # A backfill's commit need not wait for the WAL flush: a crash loses at most its last
        # moments, which the next plan finds missing and fetches again (every write is an upsert).
        cursor.execute("SET LOCAL synchronous_commit = off")
        columns = ", ".join(_QUOTED.values())
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS finhub_staging ON COMMIT DELETE ROWS AS "
                       f"SELECT {columns} FROM assets_assetpriceshistoric WITH NO DATA")
        with cursor.copy(f"COPY finhub_staging ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_COPY_TYPES)
            write = copy.write_row
            for value in values:
                write(tuple(value[c] for c in _COLUMNS))
        _insert_staged(cursor, min(r["timestamp"] for r in unique.values()),
                       max(r["timestamp"] for r in unique.values()))
    return len(rows)


def _insert_staged(cursor, first: datetime, last: datetime) -> None:
    """Move the staged rows into the history. A range with no stored row of its series (a first
    backfill) is inserted plainly, about twice as fast as ``ON CONFLICT DO UPDATE``, which checks
    and locks each row; when rows are stored there, or another writer stores some meanwhile (the
    plain insert then fails on the unique key, back to the savepoint), the upsert does it."""
    from psycopg.errors import UniqueViolation

    cursor.execute(_STORED_IN_RANGE, {"first": first, "last": last})
    if not cursor.fetchone()[0]:
        cursor.execute("SAVEPOINT finhub_bulk")
        try:
            cursor.execute(_PLAIN_INSERT)
        except UniqueViolation:
            cursor.execute("ROLLBACK TO SAVEPOINT finhub_bulk")
        else:
            cursor.execute("RELEASE SAVEPOINT finhub_bulk")
            return
    cursor.execute(_BULK_INSERT)


#: PostgreSQL types of :data:`_COLUMNS`, for the binary COPY.
_COPY_TYPES = ["timestamptz" if isinstance(prices.c[c].type, UTCDateTime)
               else "float8" if isinstance(prices.c[c].type, Float) else "varchar" for c in _COLUMNS]


def lock_latest_on(connection: Connection, keys: Iterable[tuple[str, str]]) -> None:
    """Lock the stored copies of (symbol, interval) ``keys`` in key order, for a transaction that
    writes them in more than one pass (PostgreSQL; SQLite has one writer at a time anyway)."""
    keys = sorted(set(keys))
    if connection.dialect.name == "postgresql" and keys:
        # Byte order ("C"), which is Python's order of the keys writers lock in, whatever the
        # database's collation: en_US puts BRKA before BRK.B, Python after.
        connection.execute(select(latest.c.symbol).where(tuple_(latest.c.symbol, latest.c.interval).in_(keys))
                           .order_by(latest.c.symbol.collate("C"), latest.c.interval.collate("C")).with_for_update())


def refresh_latest_on(connection: Connection, keys: Iterable[tuple[str, str]] | None = None) -> None:
    """Copy again the newest history row of each (symbol, interval) in ``keys`` (every key when
    ``None``); a key with no history left loses its copy.

    Writes through this module keep the copies; this is for rows deleted or loaded by other means.
    Safe while writers run: it takes the copies' locks first, as they do (all of them: the table).
    """
    columns = [c.name for c in latest.c]
    if keys is None:
        if connection.dialect.name == "postgresql":  # writers wait for the refill, none is missed
            connection.exec_driver_sql("LOCK TABLE assets_latestprice IN EXCLUSIVE MODE")
        connection.execute(latest.delete())
        connection.exec_driver_sql(_REFILL_ALL.format(columns=", ".join(columns),
                                                      prefixed=", ".join(f"p.{c}" for c in columns)))
        return
    keys = sorted(set(keys))
    if not keys:
        return
    lock_latest_on(connection, keys)
    params = [{"k_symbol": symbol, "k_interval": interval} for symbol, interval in keys]
    connection.execute(latest.delete().where(latest.c.symbol == bindparam("k_symbol"),
                                             latest.c.interval == bindparam("k_interval")), params)
    newest = (select(*(prices.c[c] for c in columns))
              .where(prices.c.symbol == bindparam("k_symbol"), prices.c.interval == bindparam("k_interval"))
              .order_by(prices.c.timestamp.desc()).limit(1))
    # A writer may store a first copy of a key meanwhile (there was no row to lock): the newer stays.
    connection.execute(_on_conflict(insert(latest, connection.dialect).from_select(columns, newest), latest), params)


def refresh_latest(engine: Engine, keys: Iterable[tuple[str, str]] | None = None) -> None:
    """:func:`refresh_latest_on` in a transaction of its own."""
    with engine.begin() as connection:
        refresh_latest_on(connection, keys)


def single_source_rows(engine: Engine, since: datetime, interval: str = "quote") -> list[dict]:
    """Each symbol's newest single-source row of ``interval`` with a market time from ``since`` on."""
    newest = (select(prices.c.symbol, func.max(prices.c.timestamp).label("timestamp"))
              .where(prices.c.validation_status == "single_source", prices.c.interval == interval,
                     prices.c.timestamp >= since)
              .group_by(prices.c.symbol).subquery())
    query = select(prices).join(newest, (prices.c.symbol == newest.c.symbol) & (
        prices.c.timestamp == newest.c.timestamp)).where(prices.c.interval == interval).order_by(prices.c.symbol)
    with engine.connect() as connection:
        return [dict(r) for r in connection.execute(query).mappings()]


def latest_prices(engine: Engine, interval: str = "quote", symbols: Iterable[str] | None = None,
                  columns: Sequence[str] | None = None) -> dict[str, dict]:
    """The newest row of ``interval`` per symbol (all symbols, or only ``symbols``), keyed by symbol.

    Read from the copies the writes keep (``assets_latestprice``), not by seeking the history.
    ``columns`` narrows each row to those columns (``symbol`` is always there).
    """
    selected = [latest.c.symbol, *(latest.c[c] for c in columns if c != "symbol")] if columns else list(latest.c)
    dialect = engine.dialect.name
    params: dict = {"interval": interval}
    sql = f"SELECT {', '.join(f'l.{c.name}' for c in selected)} FROM assets_latestprice l WHERE l.interval = :interval"
    if symbols is not None:
        symbols = list(symbols)
        params["symbols"] = symbols if dialect == "postgresql" else json.dumps(symbols)
        sql += _GIVEN_SYMBOLS[dialect]
    with engine.connect() as connection:
        result = connection.execute(text(sql).columns(*selected), params)
        keys = tuple(result.keys())
        at = keys.index("symbol")
        # Rows zipped with the names: building RowMappings costs ~2 ms per 500 rows.
        return {r[at]: dict(zip(keys, r)) for r in result}


def delete_older_than(engine: Engine, cutoff: datetime, batch: int = DELETE_BATCH, interval: str | None = None) -> int:
    """Delete rows (of ``interval``, or all) whose market time is before ``cutoff``, ``batch`` rows a transaction."""
    older = [prices.c.timestamp < cutoff] + ([prices.c.interval == interval] if interval else [])
    doomed = select(prices.c.id).where(*older).limit(batch).scalar_subquery()
    deleted = 0
    while True:
        with engine.begin() as connection:
            count = connection.execute(prices.delete().where(prices.c.id.in_(doomed))).rowcount
        deleted += count
        if count < batch:
            break
    # A copy older than the cutoff: its rows are gone, unless a writer stored older ones meanwhile.
    with engine.begin() as connection:
        stale = connection.execute(select(latest.c.symbol, latest.c.interval).where(
            latest.c.timestamp < cutoff, *([latest.c.interval == interval] if interval else [])))
        refresh_latest_on(connection, [tuple(key) for key in stale])
    return deleted


def summary(engine: Engine) -> dict[str, tuple[int, datetime | None]]:
    """Rows and newest market time per asset type, for ``status``."""
    query = select(prices.c.asset_type, func.count(), func.max(prices.c.timestamp)).group_by(prices.c.asset_type)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    convert = UTC_TIME.process_result_value
    return {t: (n, convert(latest, engine.dialect) if isinstance(latest, str) else latest) for t, n, latest in rows}


class BarStats(NamedTuple):
    """What is stored of (symbol, interval) in a range: how many bars, the last one, when it was written."""

    bars: int
    last: datetime | None
    written: datetime | None


def _bar_range(symbol: str, interval: str, start: datetime, end: datetime) -> tuple:
    return (prices.c.symbol == symbol, prices.c.interval == interval,
            prices.c.timestamp >= start, prices.c.timestamp < end)


def bar_stats(engine: Engine, symbol: str, interval: str, start: datetime, end: datetime) -> BarStats:
    """How many bars of (symbol, interval) are stored in [start, end) (a count over the unique index),
    the last one's market time and when it was written: what a history fetch plans from."""
    where = _bar_range(symbol, interval, start, end)
    with engine.connect() as connection:
        count, last = connection.execute(select(func.count(), func.max(prices.c.timestamp)).where(*where)).one()
        if last is None:
            return BarStats(0, None, None)
        last = UTC_TIME.process_result_value(last, engine.dialect)
        written = connection.execute(select(prices.c.updated_at).where(*where[:2], prices.c.timestamp == last)).scalar()
    return BarStats(count, last, written)


def bar_times(engine: Engine, symbol: str, interval: str, start: datetime, end: datetime) -> list[datetime]:
    """The market times of (symbol, interval)'s stored bars in [start, end), ascending."""
    query = select(prices.c.timestamp).where(*_bar_range(symbol, interval, start, end)).order_by(prices.c.timestamp)
    with engine.connect() as connection:
        return list(connection.execute(query).scalars())
