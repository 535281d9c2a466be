"""Faults the driver survives or reports in one line: a killed worker child (the pool is restarted),
workers that die at boot (the crash-loop guard stops the driver), dead Redis or database at start,
``status`` during an outage, ``--once`` with every provider down, and a second Ctrl+C."""

import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from finhub.runtime.health import QUEUES, live_consumers, register_consumer, registered_consumers
from tests.pipeline.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]


def start(env, *args, **extra_env):
    return subprocess.Popen([sys.executable, str(ROOT / "start_background_jobs.py"), *args],
                            env={**env, **extra_env}, cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc, timeout=60):
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate(timeout=30)


def worker_children(driver_pid):
    """The dramatiq worker processes (children of the master) under a driver."""
    try:
        masters = [p for p in psutil.Process(driver_pid).children() if "dramatiq" in " ".join(p.cmdline())]
        return [c for m in masters for c in m.children()]
    except psutil.NoSuchProcess:
        return []


def finhub_processes(env):
    """finhub processes (driver, dramatiq) started with this test's environment."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            if ("dramatiq" in cmdline or "start_background_jobs" in cmdline) and \
                    proc.environ().get("FINHUB_DATA_DIR") == env["FINHUB_DATA_DIR"]:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


FAST = {"FINHUB_SCHEDULE_CRYPTO_QUOTES": "2", "FINHUB_SCHEDULE_STOCK_QUOTES": "3600", "FINHUB_SCHEDULE_HEALTH": "2"}


@pytest.mark.slow
def test_a_killed_worker_child_gets_a_new_pool_within_30_s_and_quotes_keep_coming(env, redis_db, sandbox):
    proc = start(env, "--workers", "2", **FAST)
    try:
        assert wait_for(lambda: len(worker_children(proc.pid)) == 2 and all(live_consumers(redis_db).values()), 90)
        assert wait_for(lambda: redis_db.hget("finhub:jobs", "crypto_quotes"), 60), "no quote batch ran"
        old_workers = set(registered_consumers(redis_db))
        victim = worker_children(proc.pid)[0]
        victim.kill()
        killed = time.monotonic()

        def new_pool_consumes_every_queue():
            fresh = set(registered_consumers(redis_db)) - old_workers
            return len(fresh) >= 2 and all(live_consumers(redis_db).values())
        if not wait_for(new_pool_consumes_every_queue, 30):
            proc.kill()
            pytest.fail("no new pool consumes every queue 30 s after the kill: "
                        f"{live_consumers(redis_db)} {registered_consumers(redis_db)}\n{finish(proc)[1][-4000:]}")
        restarted_in = time.monotonic() - killed
        served = sum(sandbox.calls().get("coingecko", {}).values())
        last = redis_db.hget("finhub:jobs", "crypto_quotes")
        assert wait_for(lambda: redis_db.hget("finhub:jobs", "crypto_quotes") != last, 30), "quotes stopped"
        assert sum(sandbox.calls().get("coingecko", {}).values()) > served
        assert proc.poll() is None
        proc.send_signal(signal.SIGINT)
        out, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            finish(proc)
    assert proc.returncode == 0, err[-2000:]
    warnings = [line for line in err.splitlines() if "workers stopped" in line]
    assert len(warnings) == 1 and f"worker process {victim.pid} died" in warnings[0], warnings
    print(f"new pool consuming every queue {restarted_in:.1f} s after kill -9")


@pytest.mark.slow
def test_workers_dying_at_boot_stop_the_driver_with_a_crash_loop_error(env, redis_db, tmp_path):
    # Only in dramatiq worker processes, importing the actors fails (as a broken deployment would).
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(textwrap.dedent("""
        import os
        import sys

        class _BrokenActors:
            def find_spec(self, name, path=None, target=None):
                if name == "actors" and sys.argv and "dramatiq" in os.path.basename(sys.argv[0]):
                    raise ImportError("actors broken for the crash-loop test")
                return None

        sys.meta_path.insert(0, _BrokenActors())
    """))
    proc = start(env, "--workers", "1", PYTHONPATH=f"{hook}:{env['PYTHONPATH']}")
    out, err = finish(proc, timeout=150)
    assert proc.returncode not in (0, None)
    assert "not restarting them again" in err and err.count("workers stopped") >= 4, err[-3000:]
    assert "Traceback" not in err.split("not restarting them again")[-1]
    assert wait_for(lambda: not finhub_processes(env), 10)


@pytest.mark.slow
@pytest.mark.parametrize("service", ["redis", "database"])
def test_a_dead_service_at_start_is_one_line_a_non_zero_exit_and_no_process(env, redis_db, service):
    dead = {"redis": {"FINHUB_REDIS_URL": "redis://:s3cret@127.0.0.1:1/0"},
            "database": {"FINHUB_DATABASE_URL": "postgresql://finhub:s3cret@127.0.0.1:1/finhub"}}[service]
    proc = start(env, "--once", **dead)
    out, err = finish(proc)
    assert proc.returncode == 3
    lines = [line for line in err.splitlines() if line.startswith("finhub: ")]
    assert len(lines) == 1 and "unreachable at" in lines[0] and "127.0.0.1:1" in lines[0], err[-2000:]
    assert "s3cret" not in out + err and "***" in lines[0]
    assert "Traceback" not in err and "workers started" not in err
    assert not finhub_processes(env)


@pytest.mark.slow
@pytest.mark.parametrize("service", ["redis", "database"])
def test_status_during_an_outage_prints_what_it_can_and_one_line(env, redis_db, service):
    dead = {"redis": {"FINHUB_REDIS_URL": "redis://127.0.0.1:1/0"},
            "database": {"FINHUB_DATABASE_URL": "postgresql://finhub:s3cret@127.0.0.1:1/finhub"}}[service]
    done = subprocess.run([sys.executable, "-m", "finhub", "status"], env={**env, **dead}, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    unreachable = [line for line in done.stdout.splitlines() if "unreachable at" in line]
    assert len(unreachable) == 1 and unreachable[0].startswith(f"{'redis' if service == 'redis' else 'database'}:")
    readable = "active assets fresh" if service == "redis" else "NO live worker consumes this queue"
    assert readable in done.stdout
    assert "s3cret" not in done.stdout


@pytest.mark.slow
def test_once_with_every_provider_down_ends_early_with_a_line_per_failing_job(env, redis_db):
    down = {"FINHUB_YAHOO_URL": "http://127.0.0.1:1", "FINHUB_COINGECKO_URL": "http://127.0.0.1:1/api/v3",
            "FINHUB_ALPHAVANTAGE_URL": "http://127.0.0.1:1/query"}
    began = time.monotonic()
    proc = start(env, "--once", "--workers", "2", "--timeout", "300", **down)
    out, err = finish(proc, timeout=200)
    took = time.monotonic() - began
    assert proc.returncode == 1, err[-3000:]
    assert took < 120, f"--once took {took:.0f} s"
    summary = [line for line in err.splitlines() if line.startswith("finhub --once: ")]
    assert {line.split(":")[1].strip() for line in summary} >= {"crypto_quotes", "stock_quotes"}, summary


@pytest.mark.slow
def test_a_second_ctrl_c_stops_now_with_130_and_no_traceback(env, redis_db):
    proc = start(env, "--workers", "1", **FAST)
    err_lines = []
    try:
        assert wait_for(lambda: live_consumers(redis_db)["prices"], 90), "no worker came up"
        reader = threading.Thread(target=lambda: err_lines.extend(proc.stderr), daemon=True)
        reader.start()
        proc.send_signal(signal.SIGINT)
        # the second Ctrl+C once the first is handled: two signals before the handler runs are one
        assert wait_for(lambda: any("Ctrl+C again" in line for line in err_lines), 30), "".join(err_lines)
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        reader.join(30)
        err = "".join(err_lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            finish(proc)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "SchedulerNotRunningError" not in err
    pids = [int(m) for m in re.findall(r'"workers started".*?"pid": (\d+)', err)] or \
        [int(m) for m in re.findall(r'"pid": (\d+)', err)]
    assert pids and wait_for(lambda: not psutil.pid_exists(pids[0]) or
                             psutil.Process(pids[0]).status() == psutil.STATUS_ZOMBIE, 10)


def test_every_queue_counts_its_live_workers(redis_db):
    now = int(time.time() * 1000)
    redis_db.zadd("dramatiq:__heartbeats__", {"w-live": now - 1000, "w-stale": now - 60_000})
    register_consumer(redis_db, "w-live", ["prices", "validation"])
    register_consumer(redis_db, "w-stale", ["history"])
    register_consumer(redis_db, "w-booting", ["maintenance"])  # registered, no heartbeat yet: not live
    redis_db.sadd("dramatiq:__acks__.w-live.history.DQ", "m1")
    assert live_consumers(redis_db, now_ms=now) == {"prices": 1, "validation": 1, "history": 1, "maintenance": 0}
    assert set(registered_consumers(redis_db)) == {"w-live", "w-stale", "w-booting"}
    assert 0 < redis_db.ttl("finhub:consumer:w-live") <= 30  # a killed worker's record expires by itself
    assert set(QUEUES) == {"prices", "validation", "history", "maintenance"}
