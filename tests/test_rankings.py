"""Top and trending crypto snapshots: fetched from the recorded CoinGecko samples, stored
idempotently, and printed by `python -m finhub top` / `trending`."""

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from finhub.config import load_settings
from finhub.jobs.rankings import snapshot_rankings
from finhub.runtime.context import Context
from finhub.sandbox import Sandbox
from finhub.sandbox.samples import SAMPLES_DIR

ROOT = Path(__file__).resolve().parents[1]
from tests.redis_dbs import RANKINGS_DB


@pytest.fixture
def context(tmp_path):
    client = redis.Redis(db=RANKINGS_DB)
    client.flushdb()
    with Sandbox() as sb:
        env = {**sb.env(), "FINHUB_DATA_DIR": str(tmp_path / "var"),
               "FINHUB_REDIS_URL": f"redis://127.0.0.1:6379/{RANKINGS_DB}", "FINHUB_COINGECKO_QUOTA_MIN_SPACING": "0"}
        yield Context(load_settings(environ=env), env["FINHUB_REDIS_URL"]), sb, env
    client.flushdb()


@pytest.mark.parametrize("kind, day, sample, first", [
    ("trending", datetime(2025, 5, 13, 12, tzinfo=UTC), "coingecko/search_trending_2025.json",
     lambda d: d["coins"][0]["item"]["id"]),
    ("top", datetime(2023, 1, 8, 17, tzinfo=UTC),
     "coingecko/coins_markets_vs-usd_page1_per_page100_2023-01-08.json", lambda d: d[0]["id"]),
])
def test_snapshots_from_the_recorded_samples_are_stored_and_printed(context, kind, day, sample, first):
    ctx, sb, env = context
    sb.set_clock(day)
    recorded = json.loads((SAMPLES_DIR / sample).read_text())
    expected = len(recorded["coins"] if kind == "trending" else recorded)
    assert snapshot_rankings(ctx, kind, day) == expected
    assert snapshot_rankings(ctx, kind, day) == expected  # a redelivery rewrites the same snapshot
    shown = subprocess.run([sys.executable, "-m", "finhub", kind], env={**env, "PATH": "/usr/bin:/bin",
                                                                        "PYTHONPATH": str(ROOT)},
                           cwd=ROOT, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"{kind} cryptos as of {day.isoformat()}" and len(lines) == 2 + expected
    top_symbol = (recorded["coins"][0]["item"]["symbol"] if kind == "trending" else recorded[0]["symbol"]).upper()
    assert lines[2].split()[:2] == ["1", top_symbol] and first(recorded)


def test_nothing_stored_yet_says_so(tmp_path):
    shown = subprocess.run([sys.executable, "-m", "finhub", "top"], cwd=ROOT, capture_output=True, text=True,
                           env={"FINHUB_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert shown.returncode == 1 and "no top snapshot stored yet" in shown.stdout
