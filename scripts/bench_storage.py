"""Storage benchmark: finhub's bulk upsert against the raw driver, and the latest-price query.

    .venv/bin/python scripts/bench_storage.py                      # 1M rows, 500 symbols, both databases
    .venv/bin/python scripts/bench_storage.py --rows 100000 --runs 3 --db sqlite --big-rows 0
    .venv/bin/python scripts/bench_storage.py --bars-only --bars 20000000 --runs 3 --db postgresql   # 1m bars

For each database it prints the median of ``--runs`` runs of: rows/s of ``upsert_prices`` (batches
of ``--batch`` rows into an empty table), rows/s of the raw driver running the same ON CONFLICT
statement over the same rows (sqlite3 / psycopg ``executemany``), their ratio, and the median time
of ``latest_prices`` for all symbols at ``--rows`` and at ``--big-rows`` rows, whole rows and
narrowed to price and time. The big table is loaded with the raw driver, then the copies of the
newest rows (``assets_latestprice``) are refilled from it as migration 0005 does, and that refill is
timed too: only the query is measured there. Targets: ratio ≥ 0.5; latest price
for 500 symbols ≤ 20 ms at 10M rows.

With ``--bars N`` (opt-in: it loads N rows), the 1m-bar store: finhub's backfill ingest
(``bulk_upsert_prices``: COPY into staging and one INSERT … ON CONFLICT on PostgreSQL) against a raw
psycopg COPY of the same rows straight into the history (sqlite3 ``executemany`` on SQLite), median
rows/s over ``--runs`` runs of ``--bars-measure`` rows each; then, at N rows over ``--symbols``
symbols, the latest 1m price of every symbol, one symbol's bars of a day, and dropping a month (a
partition on PostgreSQL, a batched DELETE on SQLite). Targets: ingest ≥ 0.8× COPY, latest price and
a day's bars ≤ 5 ms, a month dropped ≤ 1 s.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import text

from finhub.storage import latest_prices, make_engine, migrate, refresh_latest, upsert_prices

POSTGRES_URL = os.environ.get("FINHUB_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
START = datetime(2020, 1, 1, tzinfo=UTC)
#: The narrow latest-price query: what status, due-stock checks and validation need.
PRICE_AND_TIME = ["price", "timestamp"]
COLUMNS = ("symbol", "asset_type", "interval", "timestamp", "price", "open", "high", "low", "volume",
           "market_cap", "source", "validation_status", "sources", "max_deviation_pct", "created_at", "updated_at")
UPSERT_SQL = (
    f"INSERT INTO assets_assetpriceshistoric ({', '.join(COLUMNS)}) VALUES ({{marks}}) "
    "ON CONFLICT (symbol, interval, timestamp) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c not in ("symbol", "interval", "timestamp", "created_at"))
)


def make_rows(n: int, symbols: int, offset: int = 0) -> list[dict]:
    """``n`` quote rows spread over ``symbols`` symbols, one a minute per symbol."""
    rows = []
    for i in range(offset, offset + n):
        symbol, step = i % symbols, i // symbols
        price = 100.0 + (i % 997) / 10
        rows.append({"symbol": f"S{symbol:04d}", "asset_type": "stock", "interval": "quote",
                     "timestamp": START + timedelta(minutes=step), "price": price, "open": price,
                     "high": price * 1.01, "low": price * 0.99, "volume": 1000.0 + i % 50, "market_cap": None,
                     "source": "yahoo", "validation_status": "single_source", "sources": "yahoo",
                     "max_deviation_pct": None})
    return rows


class Database:
    """A scratch database of one kind: engine for finhub, raw connection for the driver."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        if kind == "sqlite":
            self.dir = tempfile.mkdtemp(prefix="finhub-bench-")
            self.url, self.options = f"sqlite:///{self.dir}/bench.db", {}
        else:
            self.schema = f"finhub_bench_{uuid.uuid4().hex[:8]}"
            self.url, self.options = POSTGRES_URL, {"connect_args": {"options": f"-csearch_path={self.schema}"}}

    def fresh(self):
        """An engine on an empty, migrated database."""
        if self.kind == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.dir}/bench.db{suffix}").unlink(missing_ok=True)
        else:
            with make_engine(POSTGRES_URL).begin() as c:
                c.execute(text(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE"))
                c.execute(text(f"CREATE SCHEMA {self.schema}"))
        engine = make_engine(self.url, **self.options)
        migrate(engine)
        return engine

    def raw_upsert(self, rows: list[dict], batch: int) -> None:
        now = datetime.now(UTC)
        if self.kind == "sqlite":
            iso = lambda t: t.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")  # noqa: E731
            sql = UPSERT_SQL.format(marks=", ".join("?" * len(COLUMNS)))
            conn = sqlite3.connect(f"{self.dir}/bench.db")
            conn.execute("PRAGMA synchronous=NORMAL")
            stamp = iso(now)
            for i in range(0, len(rows), batch):
                with conn:
                    conn.executemany(sql, [tuple(iso(r["timestamp"]) if c == "timestamp" else
                                                 stamp if c in ("created_at", "updated_at") else r[c]
                                                 for c in COLUMNS) for r in rows[i:i + batch]])
            conn.close()
        else:
            sql = UPSERT_SQL.format(marks=", ".join(["%s"] * len(COLUMNS)))
            with psycopg.connect(POSTGRES_URL,
                                 options=f"-csearch_path={self.schema}") as conn:
                for i in range(0, len(rows), batch):
                    with conn.transaction(), conn.cursor() as cur:
                        cur.executemany(sql, [tuple(now if c in ("created_at", "updated_at") else r[c]
                                                    for c in COLUMNS) for r in rows[i:i + batch]])

    def analyze(self, engine) -> None:
        """What autovacuum would have done by now: statistics, and PostgreSQL's visibility map."""
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE assets_assetpriceshistoric" if self.kind == "postgresql" else "ANALYZE"))

    def drop(self) -> None:
        if self.kind == "postgresql":
            with make_engine(POSTGRES_URL).begin() as c:
                c.execute(text(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE"))


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def query_ms(engine, symbols: list[str] | None, columns: list[str] | None = None, runs: int = 7) -> float:
    def ask():
        latest_prices(engine, symbols=symbols, columns=columns)

    ask()  # warm caches
    return statistics.median(timed(ask) for _ in range(runs)) * 1000


def report_queries(kind: str, engine, symbols: int, rows: int, target: str = "") -> None:
    refill = timed(lambda: refresh_latest(engine))  # the raw driver's rows have no copies yet
    print(f"{kind}: newest rows of {rows:,} copied to assets_latestprice in {refill:.1f} s")
    given = [f"S{i:04d}" for i in range(symbols)]
    print(f"{kind}: latest price for {symbols} symbols at {rows:,} rows: {query_ms(engine, given):.1f} ms "
          f"given the symbols (as finhub asks), {query_ms(engine, None):.1f} ms discovering them, "
          f"{query_ms(engine, given, PRICE_AND_TIME):.1f} ms for price and time only (given){target}")


def bench(kind: str, args) -> None:
    db = Database(kind)
    rows = make_rows(args.rows, args.symbols)
    ours, raw = [], []
    try:
        for run in range(args.runs):
            engine = db.fresh()
            ours.append(args.rows / timed(lambda e=engine: [upsert_prices(e, rows[i:i + args.batch])
                                                            for i in range(0, len(rows), args.batch)]))
            engine.dispose()
            db.fresh().dispose()
            raw.append(args.rows / timed(lambda: db.raw_upsert(rows, args.batch)))
            print(f"  {kind} run {run + 1}: finhub {ours[-1]:,.0f} rows/s, raw {raw[-1]:,.0f} rows/s", flush=True)
        engine = make_engine(db.url, **db.options)
        db.analyze(engine)
        ratio = statistics.median(ours) / statistics.median(raw)
        print(f"{kind}: upsert {statistics.median(ours):,.0f} rows/s (finhub) vs {statistics.median(raw):,.0f} "
              f"rows/s (raw driver): ratio {ratio:.2f} (target >= 0.5)")
        report_queries(kind, engine, args.symbols, args.rows)
        loaded = args.rows
        while loaded < args.big_rows:
            chunk = min(1_000_000, args.big_rows - loaded)
            db.raw_upsert(make_rows(chunk, args.symbols, offset=loaded), 50_000)
            loaded += chunk
        if args.big_rows > args.rows:
            db.analyze(engine)
            report_queries(kind, engine, args.symbols, loaded, " (target <= 20 ms)")
        engine.dispose()
    finally:
        db.drop()


# --- 1m bars: bulk ingest, partitions, and the queries of an intraday store ------------------------

BAR_START = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)   # a Monday's open
SESSION = 390


def bar_rows(first: int, n: int, symbols: int) -> list[dict]:
    """Rows ``first`` to ``first + n`` of the 1m-bar sequence: symbol by symbol in blocks of a
    session's minutes (what one backfill call of a symbol stores), sessions one a day."""
    rows = []
    for i in range(first, first + n):
        block, minute = divmod(i, SESSION)
        session, symbol = divmod(block, symbols)
        moment = BAR_START + timedelta(days=session, minutes=minute)
        price = 50.0 + (i % 991) / 10
        rows.append({"symbol": f"S{symbol:04d}", "asset_type": "stock", "interval": "1m", "timestamp": moment,
                     "price": price, "open": price, "high": price * 1.001, "low": price * 0.999,
                     "volume": 100.0 + i % 70, "market_cap": None, "source": "yahoo",
                     "validation_status": "single_source", "sources": "yahoo", "max_deviation_pct": None})
    return rows


def raw_copy(db: Database, engine, rows: list[dict]) -> None:
    """The same rows by the raw driver: psycopg COPY straight into the history (PostgreSQL), or
    sqlite3 ``executemany`` of a plain INSERT (SQLite)."""
    now = datetime.now(UTC)
    if db.kind == "sqlite":
        iso = lambda t: t.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")  # noqa: E731
        conn = sqlite3.connect(f"{db.dir}/bench.db")
        with conn:
            conn.executemany(f"INSERT INTO assets_assetpriceshistoric ({', '.join(COLUMNS)}) VALUES "
                             f"({', '.join('?' * len(COLUMNS))})",
                             [tuple(iso(r["timestamp"]) if c == "timestamp" else iso(now) if c in ("created_at",
                                    "updated_at") else r[c] for c in COLUMNS) for r in rows])
        conn.close()
        return
    from finhub.storage.partitions import ensure_partitions

    ensure_partitions(engine, rows)
    columns = ", ".join(f'"{c}"' for c in COLUMNS)
    with (psycopg.connect(POSTGRES_URL, options=f"-csearch_path={db.schema}") as conn, conn.cursor() as cur,
          cur.copy(f"COPY assets_assetpriceshistoric ({columns}) FROM STDIN") as copy):
        for r in rows:
            copy.write_row([now if c in ("created_at", "updated_at") else r[c] for c in COLUMNS])


def bench_bars(kind: str, args) -> None:
    """1m bars over ``--symbols`` symbols: finhub's backfill ingest (``bulk_upsert_prices``) against
    the raw driver on ``--bars-measure`` rows (median of ``--runs``), then a ``--bars`` table for the
    latest price of every symbol, a day's bars of one symbol, and dropping a month."""
    from sqlalchemy import select

    from finhub.storage import bulk_upsert_prices, delete_older_than, prices
    from finhub.storage.partitions import drop_before

    db = Database(kind)
    chunk = SESSION * 50                                   # one session of 50 symbols a write
    measure = min(args.bars_measure, args.bars)
    ours, raw = [], []
    try:
        for run in range(args.runs):
            for side, results in (("finhub", ours), ("raw", raw)):
                engine = db.fresh()
                spent = 0.0
                for first in range(0, measure, chunk):
                    rows = bar_rows(first, min(chunk, measure - first), args.symbols)
                    spent += timed(lambda r=rows, e=engine, s=side: bulk_upsert_prices(e, r) if s == "finhub"
                                   else raw_copy(db, e, r))
                results.append(measure / spent)
                engine.dispose()
            print(f"  {kind} 1m run {run + 1}: finhub {ours[-1]:,.0f} rows/s, raw {raw[-1]:,.0f} rows/s", flush=True)
        ratio = statistics.median(ours) / statistics.median(raw)
        print(f"{kind}: 1m-bar ingest {statistics.median(ours):,.0f} rows/s (finhub backfill path) vs "
              f"{statistics.median(raw):,.0f} rows/s (raw {'COPY' if kind == 'postgresql' else 'executemany'}): "
              f"ratio {ratio:.2f} (target >= 0.8)")
        engine = make_engine(db.url, **db.options)      # the last (raw) run's rows stay; load the rest
        began = time.perf_counter()
        for first in range(measure, args.bars, chunk * 4):
            raw_copy(db, engine, bar_rows(first, min(chunk * 4, args.bars - first), args.symbols))
        refresh_latest(engine)
        print(f"{kind}: {args.bars:,} 1m-bar rows loaded in {time.perf_counter() - began:.0f} s", flush=True)
        db.analyze(engine)
        given = [f"S{i:04d}" for i in range(args.symbols)]
        latest = statistics.median(timed(lambda: latest_prices(engine, "1m", given)) for _ in range(9)) * 1000
        print(f"{kind}: latest 1m price for {args.symbols} symbols at {args.bars:,} rows: {latest:.1f} ms "
              "(target <= 5 ms)")
        sessions = args.bars // (SESSION * args.symbols)
        day = BAR_START + timedelta(days=sessions // 2)
        query = select(prices).where(prices.c.symbol == "S0007", prices.c.interval == "1m",
                                     prices.c.timestamp >= day - timedelta(hours=14, minutes=30),
                                     prices.c.timestamp < day + timedelta(hours=9, minutes=30))

        def one_day():
            with engine.connect() as c:
                assert len(c.execute(query).all()) == SESSION

        one_day()
        day_ms = statistics.median(timed(one_day) for _ in range(9)) * 1000
        print(f"{kind}: a day's 1m bars of one symbol at {args.bars:,} rows: {day_ms:.1f} ms (target <= 5 ms)")
        drops = []
        month = datetime(2026, 1, 1, tzinfo=UTC)
        for _ in range(min(3, max(1, sessions // 31))):
            month = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)
            if kind == "postgresql":
                drops.append(timed(lambda m=month: drop_before(engine, "1m", m)))
            else:
                drops.append(timed(lambda m=month: delete_older_than(engine, m, interval="1m")))
        how = "DROP of its partition" if kind == "postgresql" else "DELETE in batches"
        print(f"{kind}: dropping a month of 1m bars ({how}): median {statistics.median(drops):.2f} s over "
              f"{len(drops)} months (target <= 1 s)")
        engine.dispose()
    finally:
        db.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=10_000, help="rows per upsert call")
    parser.add_argument("--big-rows", type=int, default=10_000_000, help="table size for the second query timing")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--bars", type=int, default=0,
                        help="also the 1m-bar benchmark with a table this large (the issue's: 20000000); 0: skip")
    parser.add_argument("--bars-measure", type=int, default=1_000_000, help="rows of the timed ingest runs")
    parser.add_argument("--bars-only", action="store_true", help="only the 1m-bar benchmark")
    args = parser.parse_args()
    for kind in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
        if not args.bars_only:
            bench(kind, args)
        if args.bars:
            bench_bars(kind, args)


if __name__ == "__main__":
    main()
