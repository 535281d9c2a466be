"""Reading the price history as Arrow record batches: typed columns, streamed in chunks.

What ``finhub export`` writes and ``finhub.read_prices`` returns. The columns are named here, each
with its Arrow type, rather than taken from the table, so columns other branches add to the table
(``outlier_price``...) change nothing until they are listed here.

Memory stays flat however long the history: SQLite rows are fetched ``chunk_rows`` at a time and
PostgreSQL streams ``COPY ... TO STDOUT`` text that Arrow's CSV parser turns into columns in C, a
few megabytes at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
from sqlalchemy import Engine, func, select

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
#: PostgreSQL: bytes of COPY text parsed at once.
COPY_CHUNK_BYTES = 4 << 20


@dataclass(frozen=True)
class Extent:
    """What is stored of one symbol in a range: rows, first and last market time, newest write."""

    rows: int
    first: datetime
    last: datetime
    written: datetime


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
    """Per symbol with rows of ``interval`` in [start, end): its :class:`Extent` (one grouped query)."""
    query = (select(prices.c.symbol, func.count(), func.min(prices.c.timestamp), func.max(prices.c.timestamp),
                    func.max(prices.c.updated_at))
             .where(*_range(symbols, interval, start, end)).group_by(prices.c.symbol))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return {symbol: Extent(n, *(_aware(t, engine) for t in times)) for symbol, n, *times in rows}


def extent_until(engine: Engine, symbol: str, interval: str, start: datetime | None, last: datetime
                 ) -> tuple[int, datetime | None]:
    """Rows of (symbol, interval) from ``start`` to ``last`` included, and the newest write among them."""
    query = select(func.count(), func.max(prices.c.updated_at)).where(
        *_range([symbol], interval, start, None), prices.c.timestamp <= last)
    with engine.connect() as connection:
        rows, written = connection.execute(query).one()
    return rows, _aware(written, engine) if written is not None else None


def _aware(value: Any, engine: Engine) -> datetime:
    """Aggregates skip the column type: SQLite hands back its text."""
    return UTC_TIME.process_result_value(value, engine.dialect)


def batches(engine: Engine, symbol: str, interval: str, start: datetime | None = None, end: datetime | None = None,
            chunk_rows: int = CHUNK_ROWS) -> Iterator[pa.RecordBatch]:
    """(symbol, interval)'s rows in [start, end) by market time, as record batches of :data:`SCHEMA`."""
    query = (select(*(prices.c[name] for name, _ in COLUMNS))
             .where(*_range([symbol], interval, start, end)).order_by(prices.c.timestamp))
    if engine.dialect.name == "postgresql":
        yield from _copy_batches(engine, query)
    else:
        yield from _fetched_batches(engine, query, chunk_rows)


def _driver_sql(engine: Engine, query) -> tuple[str, Any]:
    """``query`` as the driver takes it: SQL text and parameters (positional for sqlite3)."""
    compiled = query.compile(dialect=engine.dialect, compile_kwargs={"render_postcompile": True})
    params = {name: UTC_TIME.process_bind_param(value, engine.dialect) if isinstance(value, datetime) else value
              for name, value in compiled.construct_params().items()}
    if compiled.positional:
        return str(compiled), [params[name] for name in compiled.positiontup or ()]
    return str(compiled), params


def _fetched_batches(engine: Engine, query, chunk_rows: int) -> Iterator[pa.RecordBatch]:
    sql, params = _driver_sql(engine, query)
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk_rows):
            yield _batch([pa.array(column) for column in zip(*rows)])
    finally:
        connection.close()


def _batch(arrays: list[pa.Array]) -> pa.RecordBatch:
    """The arrays read (SQLite's times as text, naive UTC) cast to :data:`SCHEMA`."""
    typed = []
    for (name, kind), array in zip(COLUMNS, arrays):
        if name in _TIMES and not pa.types.is_timestamp(array.type):
            array = array.cast(pa.timestamp("us"))
        typed.append(array.cast(kind))
    return pa.RecordBatch.from_arrays(typed, schema=SCHEMA)


def _copy_batches(engine: Engine, query) -> Iterator[pa.RecordBatch]:
    """PostgreSQL: ``COPY (query) TO STDOUT`` in CSV, times as microseconds since the epoch."""
    selected = ", ".join(
        f"(EXTRACT(EPOCH FROM {name}) * 1000000)::bigint" if name in _TIMES else name for name, _ in COLUMNS)
    inner, params = _driver_sql(engine, query)
    sql = f"COPY (SELECT {selected} FROM ({inner}) AS q) TO STDOUT (FORMAT csv)"
    read = pa_csv.ReadOptions(column_names=[name for name, _ in COLUMNS])
    convert = pa_csv.ConvertOptions(
        column_types={name: pa.int64() if name in _TIMES else kind for name, kind in COLUMNS},
        strings_can_be_null=False, quoted_strings_can_be_null=False)
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        pending = bytearray()
        with cursor.copy(sql, params) as copy:  # psycopg's cursor
            for data in copy:
                pending += data
                if len(pending) >= COPY_CHUNK_BYTES:
                    cut = pending.rindex(b"\n") + 1
                    yield from _parsed(bytes(pending[:cut]), read, convert)
                    del pending[:cut]
        if pending:
            yield from _parsed(bytes(pending), read, convert)
    finally:
        connection.close()


def _parsed(text: bytes, read: pa_csv.ReadOptions, convert: pa_csv.ConvertOptions) -> Iterator[pa.RecordBatch]:
    table = pa_csv.read_csv(pa.py_buffer(text), read_options=read, convert_options=convert)
    for batch in table.to_batches():
        yield _batch(batch.columns)
