"""Provider benchmark: calls and CPU per quote for each adapter, against the sandbox, beside the naive
way (one ``yfinance.Ticker(...).history()`` per symbol).

    .venv/bin/python scripts/bench_providers.py [--stocks 500] [--cryptos 250] [--runs 5] [--naive 40]

The sandbox runs in its own process, so the CPU figures are the adapter's (client library
included) and not the server's. Prints medians of ``--runs`` runs. Targets: at most 1 call per 50
stock quotes and per 100 crypto quotes; at most 0.5 ms of CPU per quote.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
import yfinance as yf

from finhub.config import Secret
from finhub.model import Asset, AssetType
from providers.alphavantage import AlphaVantageProvider
from providers.coingecko import CoinGeckoProvider
from providers.yahoo import YahooProvider

ROOT = Path(__file__).resolve().parents[1]


def start_sandbox() -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "finhub.sandbox", "--port", "0"], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    url = proc.stdout.readline().split(" on ")[1].split()[0]
    return proc, url


def calls(url: str, provider: str, endpoint: str) -> int:
    return requests.get(f"{url}/_sandbox/calls").json().get(provider, {}).get(endpoint, 0)


def measure(fn) -> tuple[float, object]:
    """CPU seconds of this process spent in ``fn``."""
    start = time.process_time()
    result = fn()
    return time.process_time() - start, result


def bench_adapter(name, provider, assets, url, provider_key, endpoint, runs) -> None:
    provider.quotes(assets[:2])  # warm up: cookie, crumb, connection
    cpu, quoted, made = [], 0, []
    for _ in range(runs):
        before = calls(url, provider_key, endpoint)
        seconds, result = measure(lambda: provider.quotes(assets))
        made.append(calls(url, provider_key, endpoint) - before)
        quoted = len(result.observations)
        cpu.append(seconds * 1000 / len(assets))
    per_call = len(assets) / statistics.median(made)
    print(f"{name:14} {len(assets):5} assets: {statistics.median(made):5.0f} calls ({per_call:6.1f} quotes a call), "
          f"{statistics.median(cpu):6.3f} ms CPU per quote, {quoted} quoted")


def bench_naive(assets, url, runs) -> None:
    session = YahooProvider(url, cache_dir=tempfile.mkdtemp()).session
    end = datetime.now(UTC)
    cpu = []
    before = sum(requests.get(f"{url}/_sandbox/calls").json().get("yahoo", {}).values())
    for _ in range(runs):
        seconds, _ = measure(lambda: [yf.Ticker(a.yahoo, session=session).history(start=end - timedelta(days=5),
                                                                                   end=end) for a in assets])
        cpu.append(seconds * 1000 / len(assets))
    made = sum(requests.get(f"{url}/_sandbox/calls").json().get("yahoo", {}).values()) - before
    print(f"{'naive yfinance':14} {len(assets):5} assets: {made / runs:5.0f} calls ({made / runs / len(assets):.1f} "
          f"calls a quote), {statistics.median(cpu):6.3f} ms CPU per quote (Ticker.history per symbol)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stocks", type=int, default=500)
    parser.add_argument("--cryptos", type=int, default=250)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--naive", type=int, default=40, help="symbols for the naive way (it is slow)")
    args = parser.parse_args()
    stocks = [Asset(f"S{i:03d}", AssetType.STOCK, yahoo=f"S{i:03d}", alphavantage=f"S{i:03d}")
              for i in range(args.stocks)]
    cryptos = [Asset(f"C{i:03d}", AssetType.CRYPTO, yahoo=f"C{i:03d}-USD", coingecko_id=f"coin-{i:03d}",
                     alphavantage=f"C{i:03d}") for i in range(args.cryptos)]
    proc, url = start_sandbox()
    try:
        yahoo = YahooProvider(url, cache_dir=tempfile.mkdtemp())
        bench_adapter("yahoo stocks", yahoo, stocks, url, "yahoo", "/v7/finance/quote", args.runs)
        bench_adapter("yahoo cryptos", yahoo, cryptos, url, "yahoo", "/v7/finance/quote", args.runs)
        bench_adapter("coingecko", CoinGeckoProvider(f"{url}/api/v3/"), cryptos, url, "coingecko",
                      "/api/v3/simple/price", args.runs)
        bench_adapter("alphavantage", AlphaVantageProvider(Secret("k"), f"{url}/query"), stocks[:50], url,
                      "alphavantage", "GLOBAL_QUOTE", args.runs)
        bench_naive(stocks[:args.naive], url, max(1, args.runs // 2))
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
