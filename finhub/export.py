"""The history as files and DataFrames: ``finhub export`` and ``finhub.read_prices``.

Files are Parquet (through pyarrow) or CSV with the typed columns of :mod:`finhub.storage.frames`,
one per symbol (``DIR/AAPL/AAPL.1d.parquet``) or one for all (``DIR/prices.1d.parquet``). Rows
stream from the database into the file a chunk at a time, so memory stays flat.

Exporting again touches only what changed. A per-symbol file whose rows are all still stored,
unchanged (none written since: ``updated_at``), is *appended* to when newer rows exist and left
alone (*unchanged*) when none do; any other change (a row corrected, deleted, or added before the
file's last one) *replaces* the file. The single file is either unchanged or replaced. A file is
always written beside its final name and then renamed over it: a failed export leaves the old one.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from sqlalchemy import Engine

from finhub.storage.frames import SCHEMA, Extent, Reader, extent_until, extents

if TYPE_CHECKING:
    import pandas

FORMATS = ("parquet", "csv")
LAYOUTS = ("per-symbol", "single")
ACTIONS = ("written", "appended", "replaced", "unchanged")
_TICK = timedelta(microseconds=1)
#: Parquet dictionary-encodes these (few distinct values); prices would only pay for trying.
_STRINGS = [f.name for f in SCHEMA if pa.types.is_string(f.type)]


class ExportError(Exception):
    """Bad input or an unusable destination; the message is the one line shown."""


@dataclass(frozen=True)
class Outcome:
    """What an export did to one file: ``written`` (new), ``appended``, ``replaced`` or ``unchanged``;
    ``rows`` is how many rows it wrote."""

    path: Path
    action: str
    rows: int


@dataclass(frozen=True)
class _Job:
    """What every file of one export shares."""

    out: Path
    fmt: str
    interval: str
    start: datetime | None
    end: datetime | None

    def path(self, symbol: str) -> Path:
        return self.out / symbol / f"{symbol}.{self.interval}.{self.fmt}"


def export(engine: Engine, out: Path, interval: str = "1d", symbols: Sequence[str] | None = None,
           start: datetime | None = None, end: datetime | None = None, fmt: str = "parquet",
           layout: str = "per-symbol", progress: Callable[[int, int, int], None] | None = None,
           jobs: int = 1) -> list[Outcome]:
    """Write (symbol, interval)'s rows in [start, end) under ``out``; one :class:`Outcome` per file.

    ``symbols`` defaults to every symbol with rows; a named symbol without any raises
    :class:`ExportError` before anything is written, as does a directory that cannot be written.
    ``progress(symbols done, symbols in all, rows written)`` is called as the export goes. With
    ``jobs`` > 1, that many processes write the per-symbol files, each its own share of symbols.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    if layout not in LAYOUTS:
        raise ExportError(f"unknown layout {layout!r} (choose from {', '.join(LAYOUTS)})")
    if jobs < 1:
        raise ExportError(f"--jobs must be at least 1, got {jobs}")
    stored = extents(engine, interval, symbols, start, end)
    missing = [s for s in symbols or () if s not in stored]
    if missing:
        raise ExportError(f"no {interval} rows stored for {', '.join(missing)}{_describe(start, end)}")
    if not stored:
        raise ExportError(f"no {interval} rows stored{_describe(start, end)}")
    _check_writable(out)
    names = list(symbols) if symbols else sorted(stored)
    counter = _Counter(progress or (lambda done, total, rows: None), len(names))
    job = _Job(out, fmt, interval, start, end)
    if layout == "per-symbol" and jobs > 1 and len(names) > 1:
        return _export_in_processes(engine, job, {s: stored[s] for s in names}, counter, jobs)
    with Reader(engine) as reader:
        if layout == "single":
            return [_export_single(engine, reader, job, names, stored, counter)]
        outcomes = []
        for symbol in names:
            outcomes.append(_export_symbol(engine, reader, job, symbol, stored[symbol], counter))
            counter.done += 1
            counter.report(counter.done, counter.total, counter.rows)
        return outcomes


def _export_in_processes(engine: Engine, job: _Job, stored: dict[str, Extent], counter: _Counter,
                         jobs: int) -> list[Outcome]:
    """The per-symbol files written by ``jobs`` processes, a few symbols a task (in ``stored``'s order)."""
    url = engine.url.render_as_string(hide_password=False)
    names = list(stored)
    size = max(1, len(names) // (jobs * 8))  # small tasks even out symbols of different lengths
    done: dict[str, Outcome] = {}
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        tasks = [pool.submit(_export_group, url, job, {s: stored[s] for s in names[i:i + size]})
                 for i in range(0, len(names), size)]
        for task in as_completed(tasks):
            for symbol, outcome in task.result():
                done[symbol] = outcome
                counter.rows += outcome.rows
            counter.done = len(done)
            counter.report(counter.done, counter.total, counter.rows)
    return [done[s] for s in names]


def _export_group(url: str, job: _Job, stored: dict[str, Extent]) -> list[tuple[str, Outcome]]:
    """One task of :func:`_export_in_processes`, in a worker process with connections of its own."""
    from finhub.storage import make_engine

    engine = make_engine(url)
    try:
        with Reader(engine) as reader:
            counter = _Counter(lambda done, total, rows: None, len(stored))
            return [(s, _export_symbol(engine, reader, job, s, extent, counter)) for s, extent in stored.items()]
    finally:
        engine.dispose()


def _export_single(engine: Engine, reader: Reader, job: _Job, names: Sequence[str], stored: dict[str, Extent],
                   counter: _Counter) -> Outcome:
    whole = Extent(sum(e.rows for e in stored.values()), min(e.first for e in stored.values()),
                   max(e.last for e in stored.values()))
    path = job.out / f"prices.{job.interval}.{job.fmt}"
    if _unchanged(engine, _file_extent(path, job.fmt), whole, names, job):
        counter.report(len(names), len(names), 0)
        return Outcome(path, "unchanged", 0)
    action = "replaced" if path.exists() else "written"
    stream = counter.count(names, lambda s: reader.batches(s, job.interval, job.start, job.end))
    return Outcome(path, action, _write(path, job.fmt, stream))


def _kept(engine: Engine, previous: Extent | None, stored: Extent, symbols: Sequence[str], job: _Job) -> bool:
    """Whether every row in the file ``previous`` describes is still stored, unchanged: the same
    first one, as many up to its last one, none written since."""
    if previous is None or previous.first != stored.first or previous.last > stored.last:
        return False
    rows, written = extent_until(engine, symbols, job.interval, job.start, previous.last)
    return rows == previous.rows and written is not None and previous.written is not None \
        and written <= previous.written


def _unchanged(engine: Engine, previous: Extent | None, stored: Extent, symbols: Sequence[str], job: _Job) -> bool:
    return previous is not None and (previous.rows, previous.last) == (stored.rows, stored.last) \
        and _kept(engine, previous, stored, symbols, job)


def _describe(start: datetime | None, end: datetime | None) -> str:
    if start is None and end is None:
        return ""
    return f" from {start.date() if start else 'the first'} to {end.date() if end else 'now'}"


class _Counter:
    """Counts the rows and symbols that went by, for the progress callback."""

    def __init__(self, report: Callable[[int, int, int], None], total: int) -> None:
        self.report, self.total, self.done, self.rows = report, total, 0, 0

    def rows_of(self, stream: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in stream:
            self.rows += batch.num_rows
            self.report(self.done, self.total, self.rows)
            yield batch

    def count(self, symbols: Sequence[str], stream: Callable[[str], Iterable[pa.RecordBatch]]
              ) -> Iterator[pa.RecordBatch]:
        for symbol in symbols:
            yield from self.rows_of(stream(symbol))
            self.done += 1


def _export_symbol(engine: Engine, reader: Reader, job: _Job, symbol: str, stored: Extent, counter: _Counter
                   ) -> Outcome:
    path = job.path(symbol)
    previous = _file_extent(path, job.fmt)
    if previous is not None and _kept(engine, previous, stored, [symbol], job):
        if previous.last == stored.last:
            return Outcome(path, "unchanged", 0)
        newer = counter.rows_of(reader.batches(symbol, job.interval, previous.last + _TICK, job.end))
        return Outcome(path, "appended", _write(path, job.fmt, newer, keep=True))
    action = "written" if previous is None else "replaced"
    stream = counter.rows_of(reader.batches(symbol, job.interval, job.start, job.end))
    return Outcome(path, action, _write(path, job.fmt, stream))


def _check_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise ExportError(f"cannot write to {out}: {exc.strerror or exc}") from None


def _file_extent(path: Path, fmt: str) -> Extent | None:
    """What an earlier export put in ``path``: None when there is no file or it is not one of ours."""
    if not path.exists():
        return None
    try:
        if fmt == "parquet":
            parquet = pq.ParquetFile(path)
            if not parquet.schema_arrow.equals(SCHEMA):
                return None
            stream: Iterable[pa.RecordBatch] = parquet.iter_batches(columns=["timestamp", "updated_at"])
        else:
            with open(path, newline="") as f:
                if f.readline().rstrip("\r\n") != ",".join(f'"{name}"' for name in SCHEMA.names):
                    return None
            stream = pa_csv.open_csv(path, convert_options=_csv_types(["timestamp", "updated_at"]))
        return _extent_of(stream)
    except (OSError, pa.ArrowException):
        return None


def _extent_of(stream: Iterable[pa.RecordBatch]) -> Extent | None:
    """Rows, first and last market time, newest write of (timestamp, updated_at) batches."""
    rows, firsts, lasts, writes = 0, [], [], []
    for batch in stream:
        if batch.num_rows:
            times = pc.min_max(batch.column(0))
            rows += batch.num_rows
            firsts.append(times["min"].as_py())
            lasts.append(times["max"].as_py())
            writes.append(pc.max(batch.column(1)).as_py())
    return Extent(rows, min(firsts), max(lasts), max(writes)) if rows else None


def _csv_types(columns: Sequence[str] | None = None) -> pa_csv.ConvertOptions:
    return pa_csv.ConvertOptions(column_types={f.name: f.type for f in SCHEMA}, include_columns=columns,
                                 strings_can_be_null=False, quoted_strings_can_be_null=False)


def _write(path: Path, fmt: str, stream: Iterable[pa.RecordBatch], keep: bool = False) -> int:
    """Write ``stream`` to ``path`` (after the rows already there when ``keep``); returns rows written."""
    written = 0
    with _replacing(path) as temporary:
        if fmt == "parquet":
            with pq.ParquetWriter(temporary, SCHEMA, use_dictionary=_STRINGS) as writer:
                if keep:
                    for batch in pq.ParquetFile(path).iter_batches():
                        writer.write_batch(batch)
                for batch in stream:
                    writer.write_batch(batch)
                    written += batch.num_rows
        else:
            if keep:
                shutil.copyfile(path, temporary)
            with open(temporary, "ab") as sink, pa_csv.CSVWriter(
                    sink, SCHEMA, write_options=pa_csv.WriteOptions(include_header=not keep)) as writer:
                for batch in stream:
                    writer.write_batch(batch)
                    written += batch.num_rows
    return written


@contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` that replaces it when the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")  # created with the umask's mode
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def as_utc(value: datetime | date | str | None, name: str) -> datetime | None:
    """A bound given as a datetime, a date or ISO text, as an aware UTC datetime (naive means UTC)."""
    if value is None or isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, datetime.min.time())
    else:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{name} must be a date YYYY-MM-DD or an ISO time, got {value!r}") from None
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def read_prices(symbols: str | Iterable[str] | None = None, interval: str = "1d",
                start: datetime | date | str | None = None, end: datetime | date | str | None = None,
                database: str | None = None) -> pandas.DataFrame:
    """The stored rows of ``symbols`` (one, several, or every symbol when None) and ``interval`` with
    market times in [start, end), as a DataFrame with the export's typed columns, by symbol and time.

    ``database`` is a SQLAlchemy URL; by default the one finhub's settings name (finhub.toml, the
    ``FINHUB_*`` environment). A symbol with no rows in the range raises ``LookupError``.
    """
    from finhub.storage import make_engine

    if database is None:
        from finhub.config import load_settings

        database = load_settings().database
    names = [symbols] if isinstance(symbols, str) else None if symbols is None else list(symbols)
    lower, upper = as_utc(start, "start"), as_utc(end, "end")
    engine = make_engine(database)
    try:
        stored = extents(engine, interval, names, lower, upper)
        missing = [s for s in names or () if s not in stored]
        if missing:
            raise LookupError(f"no {interval} rows stored for {', '.join(missing)}{_describe(lower, upper)}")
        with Reader(engine) as reader:
            parts = [batch for symbol in (names or sorted(stored))
                     for batch in reader.batches(symbol, interval, lower, upper)]
    finally:
        engine.dispose()
    return pa.Table.from_batches(parts, schema=SCHEMA).to_pandas()
