"""Throttled quote batches through the real driver and workers: a spent budget leaves each batch to
the next scheduled run, so the prices queue stays bounded; a per-second pause is still waited for."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from finhub.config import load_settings
from finhub.jobs.quotes import SERVED_KEY, SUPERSEDED_KEY
from finhub.planner.quota import Purpose, Quotas
from finhub.universe import build_universe
from tests.pipeline.conftest import driver, wait_for
from tests.redis_dbs import PIPELINE_DB

#: A real driver and workers, watched over several real scheduled runs.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
STOCKS = sum(1 for a in build_universe().stocks if a.active)
#: Scheduled runs (2 s apart) the queue is watched for once batches are being dropped.
RUNS_WATCHED = 5


def stock_batches(client) -> int:
    """Stock quote messages waiting, delayed or in flight on the prices queue."""
    return sum(json.loads(p)["actor_name"] == "stock_quotes"
               for key in ("dramatiq:prices.msgs", "dramatiq:prices.DQ.msgs") for p in client.hvals(key))


def test_a_spent_stock_budget_keeps_the_prices_queue_bounded(env, redis_db, tmp_path):
    env.update({"FINHUB_DATABASE_URL": f"sqlite:///{tmp_path}/finhub.db", "FINHUB_SCHEDULE_STOCK_QUOTES": "2",
                "FINHUB_YAHOO_QUOTA_PER_HOUR": "1",    # no Alpha Vantage key: Yahoo is the only stock provider
                "FINHUB_LOG_LEVEL": "DEBUG"})          # a dropped batch is DEBUG (counted for the summary)
    quotas = Quotas.from_settings(redis.Redis(host="127.0.0.1", port=6379, db=PIPELINE_DB), load_settings(environ=env))
    assert quotas.reserve("yahoo", Purpose.QUOTES)   # the hour's one call: spent before the first run
    log = open(tmp_path / "driver.log", "w")
    proc = driver(env, "--workers", "1", stdout=subprocess.DEVNULL, stderr=log)
    try:
        superseded = lambda: int(redis_db.hget(SUPERSEDED_KEY, "stock") or 0)  # noqa: E731
        assert wait_for(lambda: redis_db.hget("finhub:jobs", "stock_quotes"), 90), "no stock batch ever ran"
        first, most, end = superseded(), 0, time.monotonic() + RUNS_WATCHED * 2
        while time.monotonic() < end:
            most = max(most, stock_batches(redis_db))
            time.sleep(0.1)
        dropped = superseded() - first
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
        log.close()
    # Without the rule every run adds a batch delayed by the hour: one more message per run.
    assert most <= 2, f"{most} stock batches queued at once"
    assert dropped >= RUNS_WATCHED - 2
    assert redis_db.zcard("dramatiq:prices.XQ") == 0, "a quote batch was dead-lettered"
    assert "quote batch dropped: the next scheduled run asks for it" in (tmp_path / "driver.log").read_text()


def test_a_per_second_pause_is_waited_for_past_the_next_run(env, redis_db):
    # Five batches a run, one Yahoo call a second, a run every second: most batches wait for the
    # per-second window longer than the schedule's interval, and every one of them is still served.
    env.update({"FINHUB_SCHEDULE_STOCK_QUOTES": "1", "FINHUB_YAHOO_BATCH_SIZE": "10",
                "FINHUB_YAHOO_QUOTA_PER_SECOND": "1", "FINHUB_LOG_LEVEL": "DEBUG"})  # re-queues are DEBUG
    done = subprocess.run([sys.executable, str(ROOT / "start_background_jobs.py"), "--once", "--workers", "1",
                           "--timeout", "90"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(redis_db.hget(SERVED_KEY, "stock:yahoo") or 0) == STOCKS
    assert not redis_db.hget(SUPERSEDED_KEY, "stock")
    assert "quota reached, re-queued" in done.stderr   # the pauses did happen
