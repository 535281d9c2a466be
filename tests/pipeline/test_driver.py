"""The driver as an operator meets it: Ctrl+C stops everything cleanly, and two drivers sharing a
Redis schedule each run exactly once, handing over when the active one dies."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.pipeline.conftest import wait_for

#: Real drivers and worker processes, waiting on real schedules and lease expiry.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def start(env, *args, **extra_env):
    return subprocess.Popen([sys.executable, str(ROOT / "start_background_jobs.py"), *args],
                            env={**env, **extra_env}, cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def test_ctrl_c_exits_0_within_30_s_and_leaves_no_worker(env, redis_db):
    proc = start(env, "--workers", "1")
    try:
        assert wait_for(lambda: redis_db.hget("finhub:jobs", "health"), 90), "the health job never ran"
        proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        out, err = proc.communicate(timeout=60)
        stopped_in = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]
    assert stopped_in < 30
    pids = [int(m) for m in re.findall(r'"pid": (\d+)', err)]
    assert pids, "the driver did not log its worker master's pid"
    assert not alive(pids[0])


def test_a_killed_driver_takes_its_workers_with_it(env, redis_db):
    proc = start(env, "--workers", "1")
    try:
        assert wait_for(lambda: redis_db.hget("finhub:jobs", "health"), 90), "the health job never ran"
    finally:
        proc.kill()  # SIGKILL: no chance to stop the workers itself
        out, err = proc.communicate(timeout=60)  # returns once the workers closed the inherited pipes
    pids = [int(m) for m in re.findall(r'"pid": (\d+)', err)]
    assert pids and wait_for(lambda: not alive(pids[0]), 30)


def test_two_drivers_enqueue_each_run_once_and_hand_over(env, redis_db):
    fast = {"FINHUB_SCHEDULE_HEALTH": "1", "FINHUB_SCHEDULE_CRYPTO_QUOTES": "3600",
            "FINHUB_SCHEDULE_STOCK_QUOTES": "3600"}
    drivers = [start(env, "--no-workers", **fast) for _ in range(2)]
    try:
        assert wait_for(lambda: redis_db.llen("dramatiq:maintenance") >= 6, 40)
        holder_token = redis_db.get("finhub:scheduler:lease")
        active = next(p for p in drivers if holder_token.startswith(f"{p.pid}:"))
        # Kill the active driver the hard way; the standby must take over.
        active.kill()
        active.wait()
        before = redis_db.llen("dramatiq:maintenance")
        assert wait_for(lambda: redis_db.get("finhub:scheduler:lease") not in (None, holder_token), 12)
        assert wait_for(lambda: redis_db.llen("dramatiq:maintenance") >= before + 3, 15)
    finally:
        for p in drivers:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
                try:
                    p.communicate(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
    # Every scheduled second was claimed once and sent once, across both drivers and the hand-over.
    assert redis_db.llen("dramatiq:maintenance") == len(redis_db.keys("finhub:run:health:*"))
    bodies = [json.loads(m)["actor_name"] for m in redis_db.hvals("dramatiq:maintenance.msgs")]
    assert set(bodies) == {"health"}
