"""Pipeline benchmark: one full refresh cycle of a large universe through real workers.

    .venv/bin/python scripts/bench_pipeline.py [--stocks 5000] [--cryptos 1000] [--workers 2] [--runs 3]

A sandbox process with zero latency and no quotas stands in for the providers (finhub's own quotas
are lifted too: this measures the pipeline, not the budget). For each run it enqueues every quote
batch, as the driver does, and waits until every asset has a stored row. It prints the medians of:
wall time of the cycle, quotes/s, worker CPU ms per quote, peak worker RSS; and two floors measured
in the same run: draining the same number of no-op Dramatiq messages with the same workers, fetching
the cycle's provider calls (the same batches, cross-checks included) from the same sandbox with a
bare HTTP client (``requests``, as many threads as worker processes), and one bulk upsert of the
same rows; then the cycle over the sum of the three floors. Targets: cycle <= 5 s; <= 0.5 ms CPU per
quote; worker RSS <= 200 MB; cycle / floor <= 1.5.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import psutil
import redis
import requests
from sqlalchemy import text

from finhub.runtime.workers import WORKER_ENV
from finhub.storage import make_engine, migrate, upsert_prices

ROOT = Path(__file__).resolve().parents[1]

REDIS_URL = os.environ.get("FINHUB_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
NOOP_MODULE = """
import dramatiq
from finhub.runtime.broker import make_broker
dramatiq.set_broker(make_broker({url!r}))

@dramatiq.actor(queue_name="prices")
def noop(symbols):
    pass
"""


def write_config(folder: Path, stocks: int, cryptos: int) -> Path:
    lines = ["[assets]", "stocks = ["]
    lines += [f'  {{symbol = "B{i:04d}"}},' for i in range(stocks)]
    lines += ["]", "cryptos = ["]
    lines += [f'  {{symbol = "K{i:04d}", coingecko_id = "k{i:04d}", yahoo = "K{i:04d}-USD"}},'
              for i in range(cryptos)]
    lines += ["]"]
    for provider in ("yahoo", "coingecko"):
        lines += [f"[providers.{provider}.quota]", "per_second = 0", "per_minute = 0", "per_hour = 0",
                  "min_spacing = 0", "concurrency = 0"]
    path = folder / "finhub.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def start(command, env, **kw) -> subprocess.Popen:
    return subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True, **kw)


def worker_processes(master: subprocess.Popen) -> list[psutil.Process]:
    parent = psutil.Process(master.pid)
    return [parent, *parent.children(recursive=True)]


def cpu_seconds(procs) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def run_cycle(env, workers, engine, expected: int, client) -> dict:
    with engine.begin() as c:
        c.execute(text("DELETE FROM assets_assetpriceshistoric"))
        c.execute(text("DELETE FROM assets_latestprice"))  # or the stocks look fresh and are not fetched
    procs = worker_processes(workers)
    cpu_before = cpu_seconds(procs)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "from finhub.runtime.driver import enqueue_once;"
                    "from finhub.runtime.context import Context;"
                    "from finhub.config import load_settings; import os;"
                    "s = load_settings();"
                    "enqueue_once(Context(s, os.environ['FINHUB_REDIS_URL']), ('stock_quotes', 'crypto_quotes'))"],
                   env=env, cwd=ROOT, check=True)
    peak = 0
    while True:
        peak = max(peak, max(p.memory_info().rss for p in worker_processes(workers)[1:]))
        with engine.connect() as c:
            if c.execute(text("SELECT COUNT(*) FROM assets_assetpriceshistoric")).scalar() >= expected:
                break
        time.sleep(0.05)
    wall = time.perf_counter() - started
    return {"wall": wall, "cpu": cpu_seconds(procs) - cpu_before, "rss": peak}


def drain_noops(count: int, module_dir: str, workers: int) -> float:
    env = {**os.environ, "PYTHONPATH": module_dir}
    proc = start([str(Path(sys.executable).with_name("dramatiq")), "benchnoop", "-p", str(workers)], env,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis.from_url(REDIS_URL)
    time.sleep(3)  # let the workers come up
    spec = importlib.util.spec_from_file_location("benchnoop", Path(module_dir) / "benchnoop.py")
    benchnoop = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchnoop)

    started = time.perf_counter()
    for _ in range(count):
        benchnoop.noop.send(["X"])
    while client.llen("dramatiq:prices") or any(client.scard(k) for k in client.scan_iter("dramatiq:__acks__.*")):
        time.sleep(0.01)
    elapsed = time.perf_counter() - started
    proc.terminate()
    proc.wait(30)
    return elapsed


def fetch_requests(url: str, stocks: int, cryptos: int, crosscheck: bool) -> list[str]:
    """The provider requests of one cycle, as the workers make them: Yahoo's v7 quote per 50 stocks,
    CoinGecko's simple/price per 250 cryptos and, with cross-checks, Yahoo's quote of those cryptos."""
    stock_symbols = [f"B{i:04d}" for i in range(stocks)]
    crypto_symbols = [f"K{i:04d}-USD" for i in range(cryptos)]
    ids = [f"k{i:04d}" for i in range(cryptos)]
    yahoo = [stock_symbols[i:i + 50] for i in range(0, stocks, 50)]
    if crosscheck:
        yahoo += [crypto_symbols[i:i + 50] for i in range(0, cryptos, 50)]
    out = [f"{url}/v7/finance/quote?symbols={','.join(batch)}&formatted=false" for batch in yahoo]
    out += [f"{url}/api/v3/simple/price?ids={','.join(ids[i:i + 250])}&vs_currencies=usd&include_market_cap=true"
            "&include_24hr_vol=true&include_last_updated_at=true" for i in range(0, cryptos, 250)]
    return out


def fetch_floor(urls: list[str], workers: int) -> float:
    """Seconds to fetch ``urls`` with a bare HTTP client (one keep-alive session per thread, as many
    threads as worker processes), reading every body as JSON."""
    local = threading.local()

    def get(url: str) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        response = session.get(url, timeout=30)
        response.raise_for_status()
        response.json()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(get, urls))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stocks", type=int, default=5000)
    parser.add_argument("--cryptos", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-crosscheck", action="store_true", help="validation judges each quote alone")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="finhub-bench-pipeline-"))
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    sandbox = start([sys.executable, "-m", "finhub.sandbox", "--port", "0"], dict(os.environ),
                    stdout=subprocess.PIPE, text=True)
    url = sandbox.stdout.readline().split(" on ")[1].split()[0]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("FINHUB_")},
           "FINHUB_CONFIG": str(write_config(folder, args.stocks, args.cryptos)), "FINHUB_REDIS_URL": REDIS_URL,
           "FINHUB_DATA_DIR": str(folder / "var"), "FINHUB_YAHOO_URL": url,
           "FINHUB_COINGECKO_URL": f"{url}/api/v3/", "FINHUB_LOG_FORMAT": "json", "FINHUB_LOG_LEVEL": "WARNING",
           **WORKER_ENV}
    if args.no_crosscheck:
        env.update(FINHUB_VALIDATION_CROSSCHECK_CRYPTO="false", FINHUB_VALIDATION_STOCK_SPOT_CHECKS="0")
    engine = make_engine(f"sqlite:///{folder / 'var' / 'finhub.db'}")
    migrate(engine)
    workers = start([str(Path(sys.executable).with_name("dramatiq")), "actors", "-p", str(args.workers)], env,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    expected = args.stocks + args.cryptos
    try:
        time.sleep(4)
        results = []
        for run in range(args.runs):
            r = run_cycle(env, workers, engine, expected, client)
            results.append(r)
            print(f"  run {run + 1}: cycle {r['wall']:.2f} s, {expected / r['wall']:,.0f} quotes/s, "
                  f"{r['cpu'] * 1000 / expected:.3f} ms worker CPU per quote, peak RSS {r['rss'] / 2**20:.0f} MB",
                  flush=True)
    finally:
        workers.terminate()
        workers.wait(30)
    wall = statistics.median(r["wall"] for r in results)
    cpu = statistics.median(r["cpu"] for r in results) * 1000 / expected
    rss = max(r["rss"] for r in results) / 2**20
    batches = -(-args.stocks // 50) + -(-args.cryptos // 250) + 2
    messages = batches * 2  # every quote batch, then its validate-and-store message
    module_dir = tempfile.mkdtemp()
    Path(module_dir, "benchnoop.py").write_text(NOOP_MODULE.format(url=REDIS_URL))
    client.flushdb()
    noop = drain_noops(messages, module_dir, args.workers)
    rows = [{"symbol": f"B{i:04d}", "asset_type": "stock", "interval": "quote",
             "timestamp": datetime(2026, 1, 1, tzinfo=UTC), "price": 10.0 + i, "source": "yahoo"}
            for i in range(expected)]
    floor_engine = make_engine(f"sqlite:///{folder / 'floor.db'}")
    migrate(floor_engine)
    start_upsert = time.perf_counter()
    upsert_prices(floor_engine, rows)
    upsert = time.perf_counter() - start_upsert
    calls = fetch_requests(url, args.stocks, args.cryptos, not args.no_crosscheck)
    fetching = statistics.median(fetch_floor(calls, args.workers) for _ in range(args.runs))
    sandbox.terminate()
    floor = noop + fetching + upsert
    print(f"cycle of {expected:,} quotes with {args.workers} worker processes (median of {args.runs}): "
          f"{wall:.2f} s (target <= 5 s), {expected / wall:,.0f} quotes/s, {cpu:.3f} ms worker CPU per quote "
          f"(target <= 0.5), peak worker RSS {rss:.0f} MB (target <= 200)")
    print(f"floors: {messages} no-op messages drained in {noop:.2f} s; the cycle's {len(calls)} provider calls "
          f"fetched from the sandbox with a bare HTTP client in {fetching:.2f} s; one bulk upsert of {expected:,} "
          f"rows in {upsert:.2f} s")
    print(f"cycle / (messaging + fetching + upsert floor): {wall:.2f} / {floor:.2f} = {wall / floor:.2f}x "
          "(target <= 1.5x)")
    client.flushdb()


if __name__ == "__main__":
    main()
