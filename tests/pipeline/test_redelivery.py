"""A worker killed with SIGKILL in the middle of a batch: its messages come back and every
observation ends up stored exactly once."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from finhub.universe import build_universe
from tests.pipeline.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]
CRYPTOS = [a.symbol for a in build_universe().cryptos]


def worker(env):
    return subprocess.Popen([str(Path(sys.executable).with_name("dramatiq")), "actors", "-p", "1", "-t", "2"],
                            env=env, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


@pytest.mark.slow  # real worker processes and a 4 s provider latency
def test_sigkill_mid_batch_is_redelivered_and_stored_once(env, sandbox, redis_db, tmp_path):
    env["FINHUB_DATABASE_URL"] = f"sqlite:///{tmp_path}/finhub.db"
    sandbox.configure("coingecko", latency=4.0)
    first = worker(env)
    second = None
    try:
        subprocess.run([sys.executable, "-c", f"import actors; actors.crypto_quotes.send({CRYPTOS!r})"],
                       env=env, cwd=ROOT, check=True, timeout=60)
        calls = lambda: sandbox.calls().get("coingecko", {}).get("/api/v3/simple/price", 0)  # noqa: E731
        assert wait_for(lambda: calls() >= 1, 30), "the batch never reached the provider"
        os.killpg(first.pid, signal.SIGKILL)  # the whole machine dies mid-call
        first.wait()
        assert redis_db.llen("dramatiq:prices") == 0  # the message is stuck with the dead worker
        sandbox.configure("coingecko", latency=0.0)
        second = worker(env)
        engine = create_engine(env["FINHUB_DATABASE_URL"])

        def stored():
            try:
                with engine.connect() as c:
                    return c.execute(text("SELECT COUNT(*) FROM assets_assetpriceshistoric")).scalar()
            except Exception:  # noqa: BLE001 - table not there yet
                return 0

        assert wait_for(lambda: stored() >= len(CRYPTOS), 45), "the killed worker's batch never came back"
        # Every message on the queue acknowledged (dramatiq drops it from .msgs on ack, after the
        # actor stored): no copy of the batch is still in flight to store it a second time.
        assert wait_for(lambda: redis_db.hlen("dramatiq:prices.msgs") == 0, 30), "a batch was never acknowledged"
        with engine.connect() as c:
            rows = c.execute(text("SELECT symbol, COUNT(*) FROM assets_assetpriceshistoric GROUP BY symbol")).all()
        assert sorted(s for s, _ in rows) == sorted(CRYPTOS) and {n for _, n in rows} == {1}
    finally:
        sandbox.configure("coingecko", latency=0.0)
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(30)
