"""``python -m finhub export``: the stored history as Parquet or CSV files, one per symbol or one in all."""

from __future__ import annotations

import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from finhub.export import ACTIONS, FORMATS, LAYOUTS, ExportError, export
from finhub.model import INTERVALS
from finhub.storage import make_engine, migrate
from finhub.storage.frames import ReadError
from finhub.universe import SYMBOL_PATTERN


def register(subparsers) -> None:
    parser = subparsers.add_parser("export", help="write the stored history to Parquet or CSV files")
    parser.add_argument("--symbols", help="comma-separated symbols, e.g. AAPL,BTC (default: every stored one)")
    parser.add_argument("--interval", default="1d", choices=INTERVALS, help="bar interval (default 1d)")
    parser.add_argument("--start", help="first day, YYYY-MM-DD (UTC; default: the first stored)")
    parser.add_argument("--end", help="last day included, YYYY-MM-DD (default: the last stored)")
    parser.add_argument("--format", dest="fmt", default="parquet", choices=FORMATS, help="file format (parquet)")
    parser.add_argument("--out", default="data", help="directory to write to (default: ./data)")
    parser.add_argument("--layout", default="per-symbol", choices=LAYOUTS,
                        help="DIR/AAPL/AAPL.1d.parquet per symbol (default) or DIR/prices.1d.parquet")
    parser.add_argument("--jobs", type=int, default=1, help="processes writing per-symbol files at once (default 1)")
    parser.set_defaults(func=run)


def _symbols(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [s.strip().upper() for s in value.split(",") if s.strip()]
    if not names:
        raise ExportError("--symbols is empty")
    bad = [s for s in names if not SYMBOL_PATTERN.fullmatch(s)]
    if bad:
        raise ExportError(f"not a symbol: {', '.join(bad)} (letters and digits, like AAPL, BTC or BRK.B)")
    return names


def _day(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
    except ValueError:
        raise ExportError(f"{option} must be a date YYYY-MM-DD, got {value!r}") from None


class _Bar:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self) -> None:
        self.shown = sys.stderr.isatty()

    def __call__(self, done: int, total: int, rows: int) -> None:
        if self.shown:
            filled = 30 * done // max(total, 1)
            print(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total} symbols, {rows:,} rows",
                  end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.shown:
            print(file=sys.stderr)


def run(args, settings) -> int:
    """Export, then say per action which files were written, appended to, replaced or left unchanged."""
    bar = _Bar()
    try:
        start, end = _day(args.start, "--start"), _day(args.end, "--end")
        outcomes = export(_engine(settings), Path(args.out), args.interval, _symbols(args.symbols), start,
                          end + timedelta(days=1) if end else None, args.fmt, args.layout, bar, args.jobs)
        problem = None
    except ExportError as exc:
        problem = str(exc)
    except OSError as exc:  # the disk filled up, a directory went away mid-way
        problem = f"cannot write {exc.filename or args.out}: {exc.strerror or exc}"
    except (SQLAlchemyError, ReadError) as exc:
        problem = f"database error ({str(exc).splitlines()[0]})"
    finally:
        bar.close()
    if problem is not None:
        print(f"finhub: {problem}", file=sys.stderr)
        return 1
    by_action = Counter(o.action for o in outcomes)
    rows = sum(o.rows for o in outcomes)
    print(f"exported to {args.out}: {len(outcomes)} file(s), {rows:,} rows written "
          f"({', '.join(f'{by_action[a]} {a}' for a in ACTIONS)})")
    for outcome in outcomes:
        if outcome.action != "unchanged":
            print(f"  {outcome.action:9} {outcome.path} (+{outcome.rows:,} rows)")
    return 0


def _engine(settings):
    engine = make_engine(settings.database)
    migrate(engine)
    return engine
