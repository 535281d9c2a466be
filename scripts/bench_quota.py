"""Quota benchmark: a day of the default schedule, compressed in time, through the real driver.

    redis-server --daemonize yes --bind 127.0.0.1 --port 6392 --save "" --appendonly no
    .venv/bin/python scripts/bench_quota.py [--scale 0.002] [--workers 4] [--runs 1] \
        [--scenario up|yahoo-down|coingecko-down|alphavantage-information] [--logs DIR]

``time_scale`` (FINHUB_TIME_SCALE) shrinks the schedule's intervals and finhub's quota windows, and
the sandbox's windows by the same factor: at 0.002 a day takes 173 s. The sandbox enforces each
provider's default windows (min_spacing is finhub's alone: the sandbox has no such window) and
answers 429 / ``Information`` beyond them. Each scenario runs ``start_background_jobs.py`` with
its workers for one compressed day on a fresh Redis database and data folder, then prints per
provider and window the most calls the sandbox saw in any such window against the quota, the
over-quota answers it gave, the share of scheduled refreshes (assets x runs) served, the most quote
messages queued at once during the day, those still queued (per actor) or dead-lettered when it
ended, and the throttled batches dropped because their job's next scheduled run came first.

Scenarios: all providers up; Yahoo down, CoinGecko down (every answer a 5xx); Alpha Vantage answering
``Information`` (its daily quota spent) to everything. It also prints the quotes stored per asset type
and the validated share (cross-checked by a second provider). Targets: 0 over quota for every provider
and window in every scenario; >= 99 % served and >= 99 % of crypto quotes validated with all up; with
Yahoo down every crypto refresh, and the stock refreshes that fit Alpha Vantage's daily budget.
Stock quotes are only due while NYSE is open (else once, for the close):
run it during NYSE hours (14:30-21:00 UTC on weekdays) or the stock figures mean little.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import redis

from finhub.calendar import is_open
from finhub.config import load_settings
from finhub.jobs.quotes import SERVED_KEY, SUPERSEDED_KEY
from finhub.runtime.health import queue_depths
from finhub.sandbox import Sandbox
from finhub.sandbox.controls import PROVIDERS, WINDOWS
from finhub.sandbox.samples import error_body
from finhub.storage import make_engine
from finhub.storage.quality import quarantine_count, validation_counts
from finhub.universe import build_universe

ROOT = Path(__file__).resolve().parents[1]

REDIS_URL = os.environ.get("FINHUB_BENCH_REDIS_URL", "redis://127.0.0.1:6392/0")
DAY = 86400
SCENARIOS = {"up": {}, "yahoo-down": {"yahoo": {"error_rate": 1.0}},
             "coingecko-down": {"coingecko": {"error_rate": 1.0}},
             "alphavantage-information": {"alphavantage": {"body": error_body("alphavantage_information")}}}


def default_quotas() -> dict[str, dict[str, int]]:
    """finhub's default windows per provider, as sandbox quotas."""
    providers = load_settings(environ={}).providers
    return {name: {w: getattr(getattr(providers, name).quota, w) for w in WINDOWS
                   if getattr(getattr(providers, name).quota, w)} for name in PROVIDERS}


def most_in_window(arrivals: list[float], seconds: float) -> int:
    """The most calls in any window of ``seconds`` (arrivals sorted)."""
    best, first = 0, 0
    for last, t in enumerate(arrivals):
        while arrivals[first] <= t - seconds:
            first += 1
        best = max(best, last - first + 1)
    return best


def scheduled(stock_market_open: bool, seconds: float) -> dict[str, int]:
    """Runs of the quote jobs in ``seconds`` (of schedule time) of the default schedule (the driver
    logs only the first run of each job at INFO). Stock quotes are due every run while NYSE is open,
    else once, for the close."""
    schedule = load_settings(environ={}).schedule
    return {"stock_quotes": int(seconds // schedule.stock_quotes) + 1 if stock_market_open else 1,
            "crypto_quotes": int(seconds // schedule.crypto_quotes) + 1}


def watch_prices_queue(client: redis.Redis, seconds: float, every: float = 0.5) -> int:
    """Sleep ``seconds``, sampling the prices queue; returns the most messages seen waiting or delayed."""
    peak, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        prices = queue_depths(client, ["prices"])["prices"]
        peak = max(peak, prices["waiting"] + prices["delayed"])
        time.sleep(min(every, max(0.0, end - time.monotonic())))
    return peak


def quote_batches(client: redis.Redis) -> Counter:
    """Messages on the prices queue (waiting, delayed or held by a worker), per actor."""
    return Counter(json.loads(payload)["actor_name"] for key in ("dramatiq:prices.msgs", "dramatiq:prices.DQ.msgs")
                   for payload in client.hvals(key))


def run(scenario: str, scale: float, workers: int, keep: Path | None = None, seconds: float = DAY) -> dict:
    """One scenario for ``seconds`` of schedule time (a day by default) at ``scale``."""
    quotas = default_quotas()
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    client.flushdb()
    universe = build_universe()
    stocks = sum(1 for a in universe.stocks if a.active)
    cryptos = sum(1 for a in universe.cryptos if a.active)
    with Sandbox(time_scale=scale, **{p: {"quotas": q} for p, q in quotas.items()}) as sandbox, \
            tempfile.TemporaryDirectory() as tmp:
        for provider, controls in SCENARIOS[scenario].items():
            sandbox.configure(provider, **controls)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("FINHUB_")}, **sandbox.env(),
               "FINHUB_REDIS_URL": REDIS_URL, "FINHUB_DATA_DIR": tmp, "FINHUB_LOG_FORMAT": "json",
               "FINHUB_TIME_SCALE": str(scale), "FINHUB_BREAKER_COOLDOWN": str(60 * scale),
               "FINHUB_ALPHAVANTAGE_API_KEY": "bench"}
        log = Path(tmp) / "driver.log"
        with open(log, "w") as err:
            driver = subprocess.Popen([sys.executable, str(ROOT / "start_background_jobs.py"), "--workers",
                                       str(workers)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
            try:
                # The day starts when the driver first enqueues (after the workers' start-up).
                deadline = time.monotonic() + 120
                while "enqueued" not in log.read_text() and time.monotonic() < deadline:
                    time.sleep(0.1)
                peak = watch_prices_queue(client, seconds * scale)
            finally:
                driver.send_signal(signal.SIGINT)
                try:
                    driver.wait(120)
                except subprocess.TimeoutExpired:
                    driver.kill()
        runs = scheduled(is_open(datetime.now(UTC)), seconds)
        engine = make_engine(f"sqlite:///{Path(tmp) / 'finhub.db'}")
        counts = validation_counts(engine, datetime(2000, 1, 1, tzinfo=UTC))
        stored = {kind: dict(by_status) for kind, by_status in counts.items()}
        quarantined = quarantine_count(engine)
        engine.dispose()
        if keep:
            keep.mkdir(parents=True, exist_ok=True)
            log.replace(keep / f"{scenario}-{datetime.now(UTC):%H%M%S}.log")
        stats = sandbox.stats()
        windows = {p: {w: (most_in_window(sandbox.state.served_at(p), WINDOWS[w] * scale), limit)
                       for w, limit in q.items()} for p, q in quotas.items()}
    served = {k: int(v) for k, v in client.hgetall(SERVED_KEY).items()}
    prices = queue_depths(client, ["prices"])["prices"]
    batches = quote_batches(client)
    superseded = {k: int(v) for k, v in client.hgetall(SUPERSEDED_KEY).items()}
    return {"left": {"queued": prices["waiting"] + prices["delayed"], "dead": prices["dead"],
                     "stock batches": batches["stock_quotes"], "crypto batches": batches["crypto_quotes"]},
            "peak_queued": peak, "superseded": {k: superseded.get(k, 0) for k in ("stock", "crypto")},
            "windows": windows, "over_quota": stats["over_quota"], "calls": stats["calls"],
            "stored": stored, "quarantined": quarantined,
            "stock_refreshes": runs.get("stock_quotes", 0) * stocks,
            "crypto_refreshes": runs.get("crypto_quotes", 0) * cryptos,
            "stocks_served": {k.split(":")[1]: v for k, v in served.items() if k.startswith("stock:")},
            "cryptos_served": {k.split(":")[1]: v for k, v in served.items() if k.startswith("crypto:")}}


def report(scenario: str, results: list[dict]) -> None:
    print(f"\n== {scenario}: {len(results)} run(s); figures are medians")
    first = results[0]
    for provider, windows in first["windows"].items():
        over = statistics.median(r["over_quota"].get(provider, 0) for r in results)
        calls = statistics.median(sum(r["calls"].get(provider, {}).values()) for r in results)
        cells = ", ".join(f"{w} {statistics.median(r['windows'][provider][w][0] for r in results):g}/{limit}"
                          for w, (_, limit) in windows.items())
        print(f"  {provider:13} requests {calls:g}; most in any window vs quota: {cells}; over quota: {over:g}")
    for kind in ("stock", "crypto"):
        scheduled_ = statistics.median(r[f"{kind}_refreshes"] for r in results)
        by = {p: statistics.median(r[f"{kind}s_served"].get(p, 0) for r in results)
              for p in sorted({p for r in results for p in r[f"{kind}s_served"]})}
        total = sum(by.values())
        share = total / scheduled_ if scheduled_ else 0.0
        print(f"  {kind} refreshes: {total:g} served of {scheduled_:g} scheduled ({share:.1%}); by provider: "
              + (", ".join(f"{p} {n:g}" for p, n in by.items()) or "none"))
    for kind in ("stock", "crypto"):
        validated = statistics.median(r["stored"].get(kind, {}).get("validated", 0) for r in results)
        total = statistics.median(sum(r["stored"].get(kind, {}).values()) for r in results)
        print(f"  {kind} quotes stored: {total:g}, validated {validated:g} "
              f"({validated / total if total else 0:.1%}), the rest single-source")
    print(f"  quarantined: {statistics.median(r['quarantined'] for r in results):g}")
    print(f"  prices queue: at most {statistics.median(r['peak_queued'] for r in results):g} messages waiting or "
          "delayed during the day (sampled every 0.5 s); left when the day ended: "
          + ", ".join(f"{k} {statistics.median(r['left'][k] for r in results):g}" for k in results[0]["left"]))
    print("  throttled batches dropped, the next scheduled run coming first: "
          + ", ".join(f"{k} {statistics.median(r['superseded'][k] for r in results):g}" for k in ("stock", "crypto")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=0.002, help="time scale (0.002: a day in 173 s)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--hours", type=float, default=24.0,
                        help="hours of the schedule to run (24); --scale 1 --hours 0.5: 30 real-time minutes")
    parser.add_argument("--scenario", choices=list(SCENARIOS), action="append")
    parser.add_argument("--logs", type=Path, help="keep each run's driver and worker log (JSON lines) in this folder")
    args = parser.parse_args()
    if not is_open(datetime.now(UTC)):
        print("warning: NYSE is closed: stock quotes are only due once, for the close", file=sys.stderr)
    for scenario in args.scenario or list(SCENARIOS):
        report(scenario, [run(scenario, args.scale, args.workers, args.logs, args.hours * 3600)
                          for _ in range(args.runs)])


if __name__ == "__main__":
    main()
