"""Storage benchmark: finhub's bulk upsert against the raw driver, and the latest-price query.

    .venv/bin/python scripts/bench_storage.py                      # 1M rows, 500 symbols, both databases
    .venv/bin/python scripts/bench_storage.py --rows 100000 --runs 3 --db sqlite --big-rows 0

For each database it prints the median of ``--runs`` runs of: rows/s of ``upsert_prices`` (batches
of ``--batch`` rows into an empty table), rows/s of the raw driver running the same ON CONFLICT
statement over the same rows (sqlite3 / psycopg ``executemany``), their ratio, and the median time
of ``latest_prices`` for all symbols at ``--rows`` and at ``--big-rows`` rows, whole rows and
narrowed to price and time. The big table is loaded with the raw driver, then the copies of the
newest rows (``assets_latestprice``) are refilled from it as migration 0005 does, and that refill is
timed too: only the query is measured there. Targets: ratio ≥ 0.5; latest price
for 500 symbols ≤ 20 ms at 10M rows.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=10_000, help="rows per upsert call")
    parser.add_argument("--big-rows", type=int, default=10_000_000, help="table size for the second query timing")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    for kind in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
        bench(kind, args)


if __name__ == "__main__":
    main()
