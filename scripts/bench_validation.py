"""Validation benchmark: how fast the rules judge, and what cross-checks add to a pipeline cycle.

    .venv/bin/python scripts/bench_validation.py [--groups 100000] [--runs 5] [--pipeline] [--pipeline-runs 3]

Rules: ``decide()`` over 100,000 observation groups of one asset each (half stocks, half crypto; two
or three providers; one group in twenty with a source 5 % off; four in five with a last good price),
all judged at one frozen Friday afternoon. Prints the medians of ``--runs`` of groups judged per
second of wall time and per second of CPU time (target >= 50,000/s).

``--pipeline`` also runs ``scripts/bench_pipeline.py`` with cross-checks on and with
``--no-crosscheck`` (same arguments otherwise) and prints the medians of its cycle wall time and the
difference: the wall time validation adds to a refresh cycle. Set ``FINHUB_BENCH_REDIS_URL`` to a
Redis of your own.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from finhub.model import AssetType, Observation
from finhub.validation import LastGood, decide

ROOT = Path(__file__).resolve().parents[1]

#: A Friday with NYSE open.
NOW = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
PROVIDERS = ("coingecko", "yahoo", "alphavantage")


def make_groups(count: int, seed: int = 7) -> list[tuple[list[Observation], str, LastGood | None]]:
    rng = random.Random(seed)
    groups = []
    for i in range(count):
        kind = AssetType.STOCK if i % 2 else AssetType.CRYPTO
        base = rng.uniform(1, 1000)
        providers = PROVIDERS[:3 if rng.random() < 0.3 else 2]
        prices = [base * (1 + rng.uniform(-0.003, 0.003)) for _ in providers]
        if rng.random() < 0.05:
            prices[rng.randrange(len(prices))] *= 1.05
        stamp = NOW - timedelta(seconds=rng.uniform(0, 600))
        obs = [Observation(f"A{i % 500}", kind, p, stamp, name, NOW) for name, p in zip(providers, prices)]
        last = LastGood(base * (1 + rng.uniform(-0.01, 0.01)), stamp - timedelta(minutes=5)) \
            if rng.random() < 0.8 else None
        groups.append((obs, providers[0], last))
    return groups


def rules_per_second(groups) -> tuple[float, float]:
    """Groups judged per second of wall time, and per second of this process's CPU time (which
    other jobs on a shared machine disturb less)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for obs, primary, last in groups:
        decide(obs, primary=primary, now=NOW, last_good=last)
    return len(groups) / (time.perf_counter() - wall), len(groups) / (time.process_time() - cpu)


def pipeline_cycle(extra: list[str], runs: int) -> tuple[float, float]:
    """The median cycle wall time and worker CPU ms per quote bench_pipeline.py prints."""
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_pipeline.py"), "--runs", str(runs), *extra],
                         capture_output=True, text=True, check=True).stdout
    print("\n".join("  " + line.strip() for line in out.strip().splitlines()), flush=True)
    summary = re.search(r"\(median of \d+\): ([\d.]+) s .*?, ([\d.]+) ms worker CPU per quote", out)
    return float(summary[1]), float(summary[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--groups", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pipeline", action="store_true", help="also measure the wall time added to a cycle")
    parser.add_argument("--pipeline-runs", type=int, default=3)
    args = parser.parse_args()
    groups = make_groups(args.groups)
    decide(*groups[0][:1], primary=groups[0][1], now=NOW)  # load the NYSE calendar outside the timing
    rates = []
    for run in range(args.runs):
        rates.append(rules_per_second(groups))
        print(f"  run {run + 1}: {rates[-1][0]:,.0f} groups/s, {rates[-1][1]:,.0f} per CPU second", flush=True)
    print(f"rules: {statistics.median(r[0] for r in rates):,.0f} observation groups judged per second over "
          f"{args.groups:,} ({statistics.median(r[1] for r in rates):,.0f} per CPU second; medians of {args.runs}; "
          "target >= 50,000/s)")
    if args.pipeline:
        (on, on_cpu), (off, off_cpu) = (pipeline_cycle(extra, args.pipeline_runs)
                                        for extra in ([], ["--no-crosscheck"]))
        print(f"pipeline cycle (medians of {args.pipeline_runs}): {on:.2f} s with cross-checks, {off:.2f} s without: "
              f"validation adds {on - off:+.2f} s wall, {on_cpu - off_cpu:+.3f} ms worker CPU per quote")


if __name__ == "__main__":
    main()
