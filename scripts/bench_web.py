"""Web benchmark: ``finhub web`` over a large installation.

    .venv/bin/python scripts/bench_web.py                        # 6,000 assets, 1M history rows, SQLite
    .venv/bin/python scripts/bench_web.py --db postgresql        # the same on PostgreSQL (FINHUB_BENCH_POSTGRES_URL)
    .venv/bin/python scripts/bench_web.py --stocks 500 --cryptos 100 --rows 100000 --requests 20

Stores ``--rows`` history rows over ``--stocks`` + ``--cryptos`` assets (quotes a minute apart, the
newest fresh for most assets, a few stale, some validated), a few hundred quarantined observations
and job records in a private ``redis-server``, starts ``finhub web`` as a user does, and times
``--requests`` sequential GETs of ``/api/status``, ``/metrics`` and ``/`` after a warm-up: median
and p95 in ms each (target: p95 ≤ 100 ms) with the web process's CPU time per request (what the
machine's load changes least), and the web process's RSS at the end. Twice: as ``finhub web`` runs
by default (one read of the status shared by the requests of a second) and with ``--share 0``
(every request reads Redis and the database anew).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import redis
import requests
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from finhub.runtime.health import record_job  # noqa: E402
from finhub.storage import make_engine, migrate, quarantine_rows, refresh_latest  # noqa: E402

POSTGRES_URL = os.environ.get("FINHUB_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
ENDPOINTS = ("/api/status", "/metrics", "/")
COLUMNS = ("symbol", "asset_type", "interval", "timestamp", "price", "open", "high", "low", "volume", "market_cap",
           "source", "validation_status", "sources", "max_deviation_pct", "created_at", "updated_at")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(folder: Path, stocks: int, cryptos: int) -> Path:
    lines = ["[assets]", "stocks = ["]
    lines += [f'  {{symbol = "B{i:04d}"}},' for i in range(stocks)]
    lines += ["]", "cryptos = ["]
    lines += [f'  {{symbol = "K{i:04d}", coingecko_id = "k{i:04d}", yahoo = "K{i:04d}-USD"}},' for i in range(cryptos)]
    lines += ["]"]
    path = folder / "finhub.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def symbols(stocks: int, cryptos: int) -> list[tuple[str, str]]:
    return [(f"B{i:04d}", "stock") for i in range(stocks)] + [(f"K{i:04d}", "crypto") for i in range(cryptos)]


def load(url: str, assets: list[tuple[str, str]], rows: int) -> None:
    """``rows`` quotes over ``assets``, one a minute back from now per asset (every 50th asset's stop a
    day ago: stale), loaded with the raw driver; then the newest-row copies and some quarantine."""
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as c:
        for table in ("assets_assetpriceshistoric", "assets_latestprice", "assets_pricequarantine"):
            c.execute(text(f"DELETE FROM {table}"))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    sqlite = url.startswith("sqlite")
    stamp = (lambda d: d.replace(tzinfo=None).isoformat(" ", "microseconds")) if sqlite else (lambda d: d)
    written = stamp(now)

    def batch(start: int, end: int) -> list[tuple]:
        out = []
        for i in range(start, end):
            symbol, asset_type = assets[i % len(assets)]
            step = i // len(assets) + (1440 if (i % len(assets)) % 50 == 0 else 0)
            price = 100.0 + (i % 997) / 10
            status = "validated" if i % 3 == 0 else "single_source"
            out.append((symbol, asset_type, "quote", stamp(now - timedelta(minutes=step)), price, price, price * 1.01,
                        price * 0.99, 1000.0, None, "yahoo", status, "yahoo", None, written, written))
        return out
    marks = ", ".join("?" if sqlite else "%s" for _ in COLUMNS)
    sql = f"INSERT INTO assets_assetpriceshistoric ({', '.join(COLUMNS)}) VALUES ({marks})"
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for start in range(0, rows, 50_000):
            cursor.executemany(sql, batch(start, min(rows, start + 50_000)))
        raw.commit()
    finally:
        raw.close()
    refresh_latest(engine)
    observations = [{"provider": "yahoo", "price": 1.0}, {"provider": "coingecko", "price": 2.0}]
    quarantine_rows(engine, [{"symbol": s, "asset_type": t, "interval": "quote", "detail": "sources disagree",
                              "timestamp": now - timedelta(minutes=i), "reason": "disagreement",
                              "observations": observations} for i, (s, t) in enumerate(assets[:300])])
    engine.dispose()


def timed(session: requests.Session, url: str, count: int) -> list[float]:
    for _ in range(3):
        session.get(url, timeout=60).raise_for_status()
    took = []
    for _ in range(count):
        started = time.perf_counter()
        session.get(url, timeout=60).raise_for_status()
        took.append((time.perf_counter() - started) * 1000)
    return took


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(round(0.95 * len(values))) - 1)]


def measure(web: subprocess.Popen, base: str, requests_: int, label: str) -> None:
    session = requests.Session()
    for _ in range(300):
        try:
            if session.get(f"{base}/healthz", timeout=1).ok:
                break
        except requests.RequestException:
            time.sleep(0.1)
    process = psutil.Process(web.pid)
    print(f"{label}: {'median ms':>10} {'p95 ms':>8} {'CPU ms':>8}   (target p95 <= 100 ms; {requests_} requests; "
          "CPU: the web process's per request)")
    for path in ENDPOINTS:
        before = sum(process.cpu_times()[:2])
        took = timed(session, base + path, requests_)
        cpu = (sum(process.cpu_times()[:2]) - before) * 1000 / (requests_ + 3)
        print(f"  {path:12} {statistics.median(took):10.1f} {p95(took):8.1f} {cpu:8.1f}")
    print(f"  web process RSS: {process.memory_info().rss / 2**20:.0f} MB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stocks", type=int, default=5000)
    parser.add_argument("--cryptos", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=50, help="timed GETs per endpoint")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    if not shutil.which("redis-server"):
        print("bench_web: needs redis-server on PATH", file=sys.stderr)
        return 2
    folder = Path(tempfile.mkdtemp(prefix="finhub-bench-web-"))
    redis_port, web_port = free_port(), free_port()
    redis_proc = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--dir", str(folder)], stdout=subprocess.DEVNULL)
    web = None
    schema = None
    try:
        if args.db == "sqlite":
            db_url = f"sqlite:///{folder / 'finhub.db'}"
        else:
            schema = f"bench_web_{uuid.uuid4().hex[:8]}"
            with make_engine(POSTGRES_URL).begin() as c:
                c.execute(text(f"CREATE SCHEMA {schema}"))
            db_url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
        assets = symbols(args.stocks, args.cryptos)
        started = time.perf_counter()
        load(db_url, assets, args.rows)
        took = time.perf_counter() - started
        print(f"stored {args.rows:,} rows over {len(assets):,} assets ({args.db}) in {took:.0f} s")
        r = redis.Redis(port=redis_port, decode_responses=True)
        for _ in range(100):
            try:
                r.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        for job in ("crypto_quotes", "stock_quotes", "health", "validate_and_store", "cleanup"):
            record_job(r, job, "ok", "benchmark")
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("FINHUB_")},
               "FINHUB_CONFIG": str(write_config(folder, args.stocks, args.cryptos)), "FINHUB_DATABASE_URL": db_url,
               "FINHUB_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "FINHUB_DATA_DIR": str(folder)}
        for share in ("1", "0"):
            web = subprocess.Popen([sys.executable, "-m", "finhub", "web", "--port", str(web_port), "--share", share],
                                   env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            measure(web, f"http://127.0.0.1:{web_port}", args.requests,
                    "shared for 1 s (default)" if share == "1" else "every request reads (--share 0)")
            web.terminate()
            web.wait(10)
            web = None
        return 0
    finally:
        if web is not None:
            web.terminate()
            web.wait(10)
        redis_proc.terminate()
        redis_proc.wait(10)
        if schema:
            with make_engine(POSTGRES_URL).begin() as c:
                c.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
