"""What real life does to the pipeline: a failing provider, no Redis at all, a Redis restart."""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

from finhub.broker import make_broker
from finhub.universe import build_universe

ROOT = Path(__file__).resolve().parents[2]
UNIVERSE = build_universe()


def run_once(env):
    command = [sys.executable, str(ROOT / "start_background_jobs.py"), "--once", "--timeout", "90"]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=150)


def test_yahoo_down_stocks_arrive_through_alphavantage_and_crypto_through_coingecko(env, sandbox, tmp_path):
    sandbox.configure("yahoo", error_rate=1.0)
    env.update({"FINHUB_ALPHAVANTAGE_API_KEY": "test-key", "FINHUB_ALPHAVANTAGE_QUOTA_PER_SECOND": "0",
                "FINHUB_ALPHAVANTAGE_QUOTA_PER_MINUTE": "0", "FINHUB_ALPHAVANTAGE_QUOTA_PER_DAY": "0",
                "FINHUB_DATABASE_URL": f"sqlite:///{tmp_path}/finhub.db"})
    try:
        done = run_once(env)
    finally:
        sandbox.configure("yahoo", error_rate=0.0)
    assert done.returncode == 0, done.stderr[-3000:]
    with create_engine(env["FINHUB_DATABASE_URL"]).connect() as c:
        sources = dict(c.execute(text("SELECT symbol, source FROM assets_assetpriceshistoric")).all())
    assert {sources[a.symbol] for a in UNIVERSE.stocks} == {"alphavantage"}
    assert {sources[a.symbol] for a in UNIVERSE.cryptos} == {"coingecko"}
    assert sandbox.stats()["injected_errors"]["yahoo"] >= 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_redis_anywhere_runs_on_the_embedded_one(env, tmp_path):
    del env["FINHUB_REDIS_URL"]
    env["FINHUB_DATABASE_URL"] = f"sqlite:///{tmp_path}/finhub.db"
    # Nothing may answer where finhub looks for a local Redis: point that probe at a closed port.
    script = (f"import sys, finhub.broker as b; b.LOCAL_REDIS = 'redis://127.0.0.1:{free_port()}/0'; "
              "from finhub.driver import main; sys.exit(main(['--once', '--timeout', '90']))")
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=150)
    assert done.returncode == 0, done.stderr[-3000:]
    command = next(line.split("with: ", 1)[1] for line in done.stdout.splitlines() if "redis-cli -s" in line)
    assert command.startswith("redis-cli -s ") and str(tmp_path) in command
    socket = command.split(" -s ", 1)[1]
    try:  # still there after the driver exited: the queues stay inspectable
        assert redis.Redis(unix_socket_path=socket).ping()
    finally:
        redis.Redis(unix_socket_path=socket).shutdown(nosave=True)
    with create_engine(env["FINHUB_DATABASE_URL"]).connect() as c:
        assert c.execute(text("SELECT COUNT(DISTINCT symbol) FROM assets_assetpriceshistoric")).scalar() == 71
    assert list((tmp_path / "var" / "redis").glob("appendonly*"))


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_a_redis_restart_with_append_only_loses_no_queued_message(tmp_path):
    port = free_port()
    server = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--appendonly", "yes",
              "--appendfsync", "always", "--dir", str(tmp_path), "--save", ""]
    first = subprocess.Popen(server, stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    for _ in range(50):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.1)
    broker = make_broker(f"redis://127.0.0.1:{port}/0")
    import dramatiq

    @dramatiq.actor(broker=broker, queue_name="prices")
    def quote_batch(symbols):  # never run: only queued
        pass

    for i in range(100):
        quote_batch.send([f"S{i}"])
    assert client.llen("dramatiq:prices") == 100
    first.terminate()
    first.wait(10)
    second = subprocess.Popen(server, stdout=subprocess.DEVNULL)
    try:
        assert _eventually(lambda: client.llen("dramatiq:prices") == 100)
        assert client.hlen("dramatiq:prices.msgs") == 100
    finally:
        second.terminate()
        second.wait(10)
        broker.close()


def _eventually(check, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except redis.ConnectionError:
            pass
        time.sleep(0.1)
    return False
