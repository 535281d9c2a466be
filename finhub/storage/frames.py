"""Reading the price history as Arrow record batches: typed columns, streamed in chunks.

What ``finhub export`` writes and ``finhub.read_prices`` returns. The columns are named here, each
with its Arrow type, rather than taken from the table, so columns other branches add to the table
(``outlier_price``...) change nothing until they are listed here.

Memory stays flat however long the history: rows arrive a batch at a time (see :class:`Reader`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
from sqlalchemy import Engine, func, select

from finhub.config import strip_secrets
from finhub.storage.schema import UTC_TIME, prices

UTC_MICROS = pa.timestamp("us", tz="UTC")

#: The exported columns in order, with their types: times in UTC to the microsecond, prices and
#: amounts as float64, the validation verdict and the providers that agreed ("yahoo,coingecko").
COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("symbol", pa.string()),
    ("asset_type", pa.string()),
    ("interval", pa.string()),
    ("timestamp", UTC_MICROS),
    ("open", pa.float64()),
    ("high", pa.float64()),
    ("low", pa.float64()),
    ("price", pa.float64()),
    ("volume", pa.float64()),
    ("market_cap", pa.float64()),
    ("source", pa.string()),
    ("validation_status", pa.string()),
    ("sources", pa.string()),
    ("max_deviation_pct", pa.float64()),
    ("updated_at", UTC_MICROS),
)
_REQUIRED = {"symbol", "asset_type", "interval", "timestamp", "price", "source", "validation_status", "sources",
             "updated_at"}
SCHEMA = pa.schema([pa.field(name, kind, nullable=name not in _REQUIRED) for name, kind in COLUMNS])
_TIMES = tuple(name for name, kind in COLUMNS if kind == UTC_MICROS)
#: Rows per batch: about 2 MB of Arrow columns.
CHUNK_ROWS = 20_000


@dataclass(frozen=True)
class Extent:
    """What is stored of one symbol in a range: rows, first and last market time, and the newest
    write (``updated_at``) when it was asked for (it costs a read of the rows themselves)."""

    rows: int
    first: datetime
    last: datetime
    written: datetime | None = None


def _range(symbols: Sequence[str] | None, interval: str, start: datetime | None, end: datetime | None) -> list:
    where = [prices.c.interval == interval]
    if symbols is not None:
        where.append(prices.c.symbol.in_(list(symbols)))
    if start is not None:
        where.append(prices.c.timestamp >= start)
    if end is not None:
        where.append(prices.c.timestamp < end)
    return where


def extents(engine: Engine, interval: str, symbols: Sequence[str] | None = None, start: datetime | None = None,
            end: datetime | None = None) -> dict[str, Extent]:
    """Per symbol with rows of ``interval`` in [start, end): rows, first and last market time, from
    one grouped query the unique index answers alone (no ``written``)."""
    query = (select(prices.c.symbol, func.count(), func.min(prices.c.timestamp), func.max(prices.c.timestamp))
             .where(*_range(symbols, interval, start, end)).group_by(prices.c.symbol))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return {symbol: Extent(n, _aware(first, engine), _aware(last, engine)) for symbol, n, first, last in rows}


def extent_until(engine: Engine, symbols: Sequence[str] | None, interval: str, start: datetime | None,
                 last: datetime) -> tuple[int, datetime | None]:
    """Rows of ``symbols`` (all when None) and ``interval`` from ``start`` to ``last`` included, and
    the newest write among them."""
    query = select(func.count(), func.max(prices.c.updated_at)).where(
        *_range(symbols, interval, start, None), prices.c.timestamp <= last)
    with engine.connect() as connection:
        rows, written = connection.execute(query).one()
    return rows, _aware(written, engine) if written is not None else None


def _aware(value: Any, engine: Engine) -> datetime:
    """Aggregates skip the column type: SQLite hands back its text."""
    return UTC_TIME.process_result_value(value, engine.dialect)


class ReadError(Exception):
    """The database failed while the history streamed (unreachable, locked, gone); one line."""


class Reader:
    """Arrow reads of the history over one connection, closed with the reader (or its ``with``).

    PostgreSQL is read through ADBC (Arrow Database Connectivity), whose driver turns binary COPY
    output into Arrow columns in C. SQLite is read through Python's own sqlite3, ``chunk_rows``
    rows at a time: a second SQLite library in the process (ADBC's, DuckDB's) would share the
    database file's POSIX locks with this one and corrupt it (sqlite.org/howtocorrupt.html, 2.2.1).
    """

    def __init__(self, engine: Engine, chunk_rows: int = CHUNK_ROWS) -> None:
        self.dialect, self.chunk_rows = engine.dialect, chunk_rows
        self.sqlite = engine.dialect.name == "sqlite"
        if self.sqlite:
            self.errors: tuple[type[Exception], ...] = (sqlite3.Error,)
            self.connection: Any = engine.raw_connection()
            return
        import adbc_driver_manager
        import adbc_driver_postgresql.dbapi  # loaded by the processes that export only

        self.errors = (adbc_driver_manager.Error,)
        uri = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            self.connection = adbc_driver_postgresql.dbapi.connect(uri)
        except self.errors as exc:
            raise _read_error(exc) from None

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self.connection.close()

    def batches(self, symbol: str, interval: str, start: datetime | None = None, end: datetime | None = None
                ) -> Iterator[pa.RecordBatch]:
        """(symbol, interval)'s rows in [start, end) by market time, as record batches of :data:`SCHEMA`."""
        mark = (lambda n: "?") if self.sqlite else (lambda n: f"${n}")
        where, params = [f"symbol = {mark(1)}", f"interval = {mark(2)}"], [symbol, interval]
        for operator, bound in ((">=", start), ("<", end)):
            if bound is not None:
                params.append(UTC_TIME.process_bind_param(bound, self.dialect))
                where.append(f"timestamp {operator} {mark(len(params))}")
        # The constant columns are not read (_READ): every row of the query has the same.
        sql = (f"SELECT {', '.join(name for name, _ in _READ)} FROM {prices.name} WHERE {' AND '.join(where)} "
               "ORDER BY timestamp")
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql, params)
            if self.sqlite:
                while rows := cursor.fetchmany(self.chunk_rows):
                    # The row tuples straight into Arrow, typed (SQLite's times are text).
                    yield _batch(symbol, interval, pa.array(rows, type=_SQLITE_ROW).flatten())
            else:
                for batch in cursor.fetch_record_batch():
                    if batch.num_rows:
                        yield _batch(symbol, interval, batch.columns)
        except self.errors as exc:
            raise _read_error(exc) from None
        finally:
            cursor.close()


def _read_error(exc: Exception) -> ReadError:
    """``exc`` as one line, with no password of the URL in it."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return ReadError(strip_secrets(f"{type(exc).__name__}: {first}"))


#: The columns a query reads (all but the constant ones), as SQLite's rows hold them.
_READ = [(name, pa.string() if kind == UTC_MICROS else kind) for name, kind in COLUMNS
         if name not in ("symbol", "interval")]
_SQLITE_ROW = pa.struct(_READ)


def _batch(symbol: str, interval: str, arrays: list[pa.Array]) -> pa.RecordBatch:
    """A batch of :data:`SCHEMA` from the columns read (SQLite's times are text in UTC) and the
    query's symbol and interval."""
    rows = len(arrays[0])
    given = iter(arrays)
    typed = []
    for name, kind in COLUMNS:
        if name in ("symbol", "interval"):
            typed.append(pa.array([symbol if name == "symbol" else interval] * rows, kind))
            continue
        array = next(given)
        if name in _TIMES and pa.types.is_string(array.type):
            array = array.cast(pa.timestamp("us"))
        typed.append(array.cast(kind))
    return pa.RecordBatch.from_arrays(typed, schema=SCHEMA)
