"""Outages under a running pipeline (driver, workers, the sandbox logging what it served): a private
PostgreSQL stopped for 60 s, a private Redis restarted, a worker killed while it holds a slot."""

import json
import signal
import subprocess
import threading
import time
from datetime import timedelta

import pytest
import redis
from sqlalchemy import create_engine, text

from finhub.runtime.health import QUEUES
from finhub.universe import build_universe
from tests.pipeline.conftest import FROZEN, driver, wait_for
from tests.private_services import PrivatePostgres, postgres_bin

UNIVERSE = build_universe()
BY_COINGECKO = {a.coingecko_id: a.symbol for a in UNIVERSE if a.coingecko_id and a.active}
BY_YAHOO = {(a.yahoo or a.symbol): a.symbol for a in UNIVERSE if a.asset_type == "stock" and a.active}
#: The sandbox's clock moves on a minute this often, so each run's quotes carry their own market time.
MINUTE_EVERY_S = 2.0
OUTAGE_S = 60


def served_quotes(served) -> set[tuple[str, object]]:
    """(symbol, market time) of every primary quote in the sandbox's log of answers."""
    quotes = set()
    for provider, endpoint, query, now in served:
        minute = now.replace(second=0, microsecond=0)
        if provider == "coingecko" and endpoint.endswith("simple/price"):
            quotes |= {(BY_COINGECKO[i], minute) for i in query["ids"].split(",") if i in BY_COINGECKO}
        elif provider == "yahoo" and endpoint == "/v7/finance/quote":
            quotes |= {(BY_YAHOO[s], minute) for s in query["symbols"].split(",") if s in BY_YAHOO}
    return quotes


class MovingClock(threading.Thread):
    def __init__(self, sandbox):
        super().__init__(daemon=True)
        self.sandbox, self.stop = sandbox, threading.Event()

    def run(self):
        minute = 0
        while not self.stop.wait(MINUTE_EVERY_S):
            minute += 1
            self.sandbox.set_clock(FROZEN + timedelta(minutes=minute))


@pytest.fixture
def postgres():
    if postgres_bin() is None:
        pytest.skip("PostgreSQL's server binaries are not installed")
    server = PrivatePostgres().init()
    yield server
    server.close()


def dead_letters(client) -> int:
    return sum(client.zcard(f"dramatiq:{q}.XQ") for q in QUEUES)


@pytest.mark.slow
def test_postgresql_stopped_for_a_minute_loses_no_quote_fetched_meanwhile(env, sandbox, redis_db, postgres, tmp_path):
    env.update({"FINHUB_DATABASE_URL": postgres.url,
                "FINHUB_SCHEDULE_STOCK_QUOTES": "2", "FINHUB_SCHEDULE_CRYPTO_QUOTES": "2",
                # Primary quotes only: every answer the sandbox gives is then a row to find.
                "FINHUB_VALIDATION_CROSSCHECK_CRYPTO": "false", "FINHUB_VALIDATION_STOCK_SPOT_CHECKS": "0"})
    engine = create_engine(postgres.url.replace("postgresql://", "postgresql+psycopg://"))

    def stored() -> set[tuple[str, object]]:
        with engine.connect() as c:
            return {(s, t.replace(tzinfo=FROZEN.tzinfo) if t.tzinfo is None else t) for s, t in c.execute(
                text("SELECT symbol, timestamp FROM assets_assetpriceshistoric WHERE interval = 'quote'"))}

    def safely_stored():
        try:
            return stored()
        except Exception:  # noqa: BLE001 - not migrated yet
            return set()

    clock = MovingClock(sandbox)
    clock.start()
    log = open(tmp_path / "driver.log", "w")
    proc = driver(env, "--workers", "2", stdout=subprocess.DEVNULL, stderr=log)
    try:
        assert wait_for(lambda: {s for s, _ in safely_stored()} >= set(BY_COINGECKO.values()) | set(BY_YAHOO.values()),
                        60), "the pipeline never stored every asset"
        before = len(sandbox.served())
        postgres.stop("fast")
        time.sleep(OUTAGE_S)
        during = served_quotes(sandbox.served()[before:])
        postgres.start()
        kinds = {UNIVERSE[s].asset_type for s, _ in during}
        assert kinds == {"stock", "crypto"}, "collection stopped during the outage"
        assert wait_for(lambda: not (during - safely_stored()), 60), \
            f"{len(during - safely_stored())} of {len(during)} quotes served during the outage never stored"
        assert dead_letters(redis_db) == 0
    finally:
        clock.stop.set()
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        finally:
            log.close()
            sandbox.set_clock(FROZEN)
    with engine.connect() as c:
        duplicates = c.execute(text("SELECT COUNT(*) FROM (SELECT 1 FROM assets_assetpriceshistoric "
                                    "GROUP BY symbol, interval, timestamp HAVING COUNT(*) > 1) d")).scalar()
    assert duplicates == 0
    print(f"{len(during)} quotes served during the {OUTAGE_S} s outage, all stored")


@pytest.mark.slow
def test_a_worker_killed_during_a_yahoo_call_frees_its_slot_within_seconds(env, sandbox, redis_db, tmp_path):
    """Yahoo answers after 40 s; its one slot would outlive the call by 45 s (its timeout is 40 s)
    but the holder's process is gone: the next caller on this host reclaims it."""
    import os
    import sys
    from pathlib import Path

    from finhub.config import load_settings
    from finhub.planner.quota import Quotas
    from finhub.runtime.broker import make_broker
    from tests.pipeline.conftest import ROOT

    env.update({"FINHUB_DATABASE_URL": f"sqlite:///{tmp_path}/finhub.db", "FINHUB_YAHOO_TIMEOUT": "40",
                "FINHUB_YAHOO_QUOTA_CONCURRENCY": "1"})
    sandbox.configure("yahoo", latency=40.0)
    key = "finhub:quota:yahoo:inflight"
    workers = subprocess.Popen([str(Path(sys.executable).with_name("dramatiq")), "actors", "--processes", "1",
                                "--threads", "2"], env=env, cwd=ROOT, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=open(tmp_path / "workers.log", "w"))
    broker = make_broker(env["FINHUB_REDIS_URL"])
    try:
        import dramatiq

        @dramatiq.actor(broker=broker, queue_name="prices", actor_name="stock_quotes")
        def stock_quotes(symbols, scheduled=None):  # sent here, run by the worker
            pass

        stock_quotes.send(["AAPL"])
        assert wait_for(lambda: redis_db.zcard(key) == 1, 60), "no worker took Yahoo's slot"
        (holder, expiry), = redis_db.zrange(key, 0, -1, withscores=True)
        pid = int(holder.split(":")[-2])
        assert expiry - time.time() > 30  # the slot alone would stay taken that long
        os.killpg(workers.pid, signal.SIGKILL)
        killed = time.monotonic()
        workers.wait(10)
        quotas = Quotas.from_settings(redis.Redis.from_url(env["FINHUB_REDIS_URL"]),
                                      load_settings(environ={k: v for k, v in env.items() if k.startswith("FINHUB_")}))

        def free():
            with quotas.slot("yahoo") as held:
                return held

        assert wait_for(free, 15), f"the slot of killed pid {pid} was not freed"
        print(f"slot of the killed worker (pid {pid}) free {time.monotonic() - killed:.1f} s after the kill")
    finally:
        sandbox.configure("yahoo", latency=0.0)
        if workers.poll() is None:
            os.killpg(workers.pid, signal.SIGKILL)
        broker.close()


@pytest.mark.slow
@pytest.mark.parametrize("how", ["shutdown", "kill -9"])
def test_a_redis_restart_mid_run_loses_no_message_and_the_pipeline_resumes(env, sandbox, tmp_path, how):
    """A private Redis (append-only) restarted under a running driver and workers, with messages
    waiting in it (delayed ones, due after the restart): every one is processed afterwards, and
    quotes of new market times keep being stored."""
    from datetime import UTC, datetime

    from finhub.jobs.quotes import to_message
    from finhub.model import AssetType, Observation
    from finhub.runtime.broker import make_broker
    from tests.private_services import PrivateRedis

    server = PrivateRedis()
    server.start()
    env.update({"FINHUB_REDIS_URL": server.url, "FINHUB_DATABASE_URL": f"sqlite:///{tmp_path}/finhub.db",
                "FINHUB_SCHEDULE_STOCK_QUOTES": "2", "FINHUB_SCHEDULE_CRYPTO_QUOTES": "2",
                "FINHUB_VALIDATION_CROSSCHECK_CRYPTO": "false", "FINHUB_VALIDATION_STOCK_SPOT_CHECKS": "0"})
    engine = create_engine(env["FINHUB_DATABASE_URL"])

    def rows(sql, **params):
        try:
            with engine.connect() as c:
                return c.execute(text(sql), params).all()
        except Exception:  # noqa: BLE001 - not migrated yet
            return []

    def newest():
        found = rows("SELECT MAX(timestamp) FROM assets_assetpriceshistoric WHERE interval = 'quote'")
        return found[0][0] if found else None

    clock = MovingClock(sandbox)
    clock.start()
    log = open(tmp_path / "driver.log", "w")
    proc = driver(env, "--workers", "2", stdout=subprocess.DEVNULL, stderr=log)
    broker = make_broker(server.url)
    try:
        assert wait_for(lambda: newest() is not None, 60), "nothing stored before the restart"
        # BTC's price is the markers' (a crypto batch is stored once its cross-check is in: maybe after the stocks)
        assert wait_for(lambda: rows("SELECT price FROM assets_assetpriceshistoric WHERE symbol = 'BTC'"), 30)
        import dramatiq

        @dramatiq.actor(broker=broker, queue_name="validation", actor_name="validate_and_store")
        def validate_and_store(observations):  # sent here, run by the workers
            pass

        (price,), = rows("SELECT price FROM assets_assetpriceshistoric WHERE symbol = 'BTC' LIMIT 1")
        markers = [datetime(2026, 11, 1, 12, tzinfo=UTC) + timedelta(minutes=i) for i in range(20)]
        for moment in markers:
            obs = Observation("BTC", AssetType.CRYPTO, price, moment, "coingecko", moment)
            validate_and_store.send_with_options(args=([to_message(obs)],), delay=8_000)
        if how == "shutdown":
            server.shutdown()
        else:
            server.kill()
        time.sleep(2)
        server.start()
        restarted = newest()

        def markers_stored():
            found = rows("SELECT COUNT(*) FROM assets_assetpriceshistoric WHERE symbol = 'BTC' "
                         "AND interval = 'quote' AND timestamp < '2026-11-02'")  # the markers' day only
            return found and found[0][0] == len(markers)

        if not wait_for(markers_stored, 60):
            client = redis.Redis.from_url(server.url, decode_responses=True)
            held = {k: client.scard(k) for k in client.scan_iter("dramatiq:__acks__.*")}
            pytest.fail(f"messages queued before the restart never processed; held by workers: {held}")
        assert wait_for(lambda: newest() is not None and newest() > restarted, 30), "collection did not resume"
        assert proc.poll() is None, "the driver exited"
        client = redis.Redis.from_url(server.url)
        dead = [json.loads(m) for q in QUEUES for m in client.hvals(f"dramatiq:{q}.XQ.msgs")]
        assert dead == [], [(m["actor_name"], m["message_timestamp"], {k: str(v)[-300:] for k, v in m["options"].items()}) for m in dead]
    finally:
        clock.stop.set()
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        finally:
            log.close()
            broker.close()
            server.close()
            sandbox.set_clock(FROZEN)
