"""``finhub web`` after real runs: ``--once`` against the sandbox with API keys and a Redis password
configured, then the metrics, the readiness and every endpoint's output checked against Redis and
the store; and ``start_background_jobs.py --web PORT`` serving beside a live scheduler and workers."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime

import psutil
import pytest
import redis as redis_lib
import requests
from prometheus_client.parser import text_string_to_metric_families

from finhub.runtime.lease import Lease
from finhub.sandbox import Sandbox
from finhub.universe import build_universe
from tests.polling import wait_for
from tests.private_services import PrivateRedis, free_port
from tests.redis_dbs import WEB_DB, flushed
from tests.web.conftest import ROOT, TOKEN, clean_env, start_web, stop

REDIS_PASSWORD = "redis-pw-Kx93qq"
AV_KEY = "AVKEY-s3cr3t-5521"
SECRETS = (REDIS_PASSWORD, AV_KEY, TOKEN)
FAMILIES = {"finhub_queue_messages", "finhub_provider_calls", "finhub_provider_quota_used",
            "finhub_provider_quota_limit", "finhub_provider_rate_limited", "finhub_provider_breaker_open",
            "finhub_assets", "finhub_quote_age_seconds", "finhub_job_last_run_timestamp_seconds",
            "finhub_validation", "finhub_quarantined", "finhub_workers"}
ACTIVE = [a for a in build_universe() if a.active]
READS = ["/", "/?symbol=BTC&range=1d", "/healthz", "/readyz", "/api/status", "/api/queues", "/api/jobs",
         "/api/providers", "/api/workers", "/api/prices", "/api/prices?symbols=AAPL,BTC",
         "/api/prices/AAPL/history?interval=quote", "/api/quarantine?since=1d", "/metrics", "/openapi.json",
         "/api/prices/NOPE/history", "/api/quarantine?since=nonsense"]


def _env(sandbox: Sandbox, redis_url: str, data) -> dict[str, str]:
    return clean_env(**sandbox.env(), FINHUB_REDIS_URL=redis_url, FINHUB_DATA_DIR=str(data),
                     FINHUB_ALPHAVANTAGE_API_KEY=AV_KEY, FINHUB_WEB_TOKEN=TOKEN, FINHUB_LOG_FORMAT="json",
                     # reruns within a minute would meet CoinGecko's keyless 5 a minute (quotas have their own tests)
                     FINHUB_COINGECKO_QUOTA_PER_MINUTE="0", FINHUB_COINGECKO_QUOTA_MIN_SPACING="0")


def _samples(url: str) -> dict[str, dict[tuple, float]]:
    """Each family's samples, by their sorted label items (a counter's family is named without ``_total``)."""
    text = requests.get(f"{url}/metrics", timeout=30).text
    return {f.name: {tuple(sorted(s.labels.items())): s.value for s in f.samples}
            for f in text_string_to_metric_families(text)}


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


@pytest.mark.slow
def test_after_a_known_run_every_endpoint_agrees_with_redis_and_the_store_and_shows_no_secret(tmp_path):
    server = PrivateRedis(password=REDIS_PASSWORD)
    server.start()
    try:
        with Sandbox() as sandbox:
            _known_run(tmp_path, sandbox, server)
    finally:
        server.close()


def _known_run(tmp_path, sandbox: Sandbox, server: PrivateRedis) -> None:
    env = _env(sandbox, server.url, tmp_path / "var")
    started = datetime.now(UTC).timestamp()
    once = subprocess.run([sys.executable, str(ROOT / "start_background_jobs.py"), "--once"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert once.returncode == 0, once.stderr[-3000:]
    finished = datetime.now(UTC).timestamp()
    web, url = start_web(env, "--share", "0")  # every request reads Redis and the store anew
    r = redis_lib.Redis(port=server.port, password=REDIS_PASSWORD, decode_responses=True)
    try:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        for job in ("health", "crypto_quotes"):  # known messages waiting: no worker runs now
            assert requests.post(f"{url}/api/jobs/{job}/trigger", headers=auth, timeout=30).status_code == 200
        metrics = _samples(url)
        assert set(metrics) >= FAMILIES, FAMILIES - set(metrics)
        for queue in ("prices", "validation", "history", "maintenance"):
            for state, expected in (("waiting", r.llen(f"dramatiq:{queue}")), ("dead", r.zcard(f"dramatiq:{queue}.XQ")),
                                    ("delayed", r.hlen(f"dramatiq:{queue}.DQ.msgs"))):
                assert metrics["finhub_queue_messages"][(("queue", queue), ("state", state))] == expected
        assert metrics["finhub_queue_messages"][(("queue", "maintenance"), ("state", "waiting"))] == 1
        freshness = metrics["finhub_assets"]
        assert sum(v for k, v in freshness.items() if ("freshness", "fresh") in k) == len(ACTIVE)
        assert sum(v for k, v in freshness.items() if ("freshness", "fresh") not in k) == 0
        with sqlite3.connect(tmp_path / "var" / "finhub.db") as db:
            stored = dict(((t, s), n) for t, s, n in db.execute(
                "SELECT asset_type, validation_status, COUNT(*) FROM assets_assetpriceshistoric GROUP BY 1, 2"))
            quarantined = dict(db.execute("SELECT reason, COUNT(*) FROM assets_pricequarantine GROUP BY 1"))
        assert {(dict(k)["asset_type"], dict(k)["status"]): v for k, v in metrics["finhub_validation"].items()} \
            == stored
        assert {dict(k)["reason"]: v for k, v in metrics["finhub_quarantined"].items()} == quarantined
        calls = metrics["finhub_provider_calls"]
        for provider in ("yahoo", "alphavantage"):  # every reservation of the run counts in the hour and the day
            window = "per_hour" if provider == "yahoo" else "per_day"
            spent = sum(v for k, v in calls.items() if ("provider", provider) in k)
            assert spent >= 1 and metrics["finhub_provider_quota_used"][(("provider", provider),
                                                                         ("window", window))] == spent
        assert calls[(("provider", "coingecko"), ("purpose", "quotes"))] >= 1
        assert metrics["finhub_provider_quota_limit"][(("provider", "yahoo"), ("window", "per_minute"))] == 60
        assert set(metrics["finhub_provider_breaker_open"].values()) == {0}
        assert set(metrics["finhub_provider_rate_limited"].values()) == {0}
        ages = metrics["finhub_quote_age_seconds"]
        assert 0 <= ages[(("asset_type", "crypto"), ("quote", "newest"))] \
            <= ages[(("asset_type", "crypto"), ("quote", "oldest"))] < 600
        last = metrics["finhub_job_last_run_timestamp_seconds"][(("job", "crypto_quotes"), ("outcome", "ok"))]
        assert started - 1 <= last <= finished + 1
        assert metrics["finhub_workers"][()] == 0 and metrics["finhub_scheduler_lease_held"][()] == 0

        # Ready only once a scheduler holds the lease (the quotes are fresh after the run).
        not_ready = requests.get(f"{url}/readyz", timeout=30)
        assert not_ready.status_code == 503 and not_ready.json()["reasons"] == ["scheduler: no driver holds the lease"]
        lease = Lease(r)
        assert lease.refresh()
        assert requests.get(f"{url}/readyz", timeout=30).status_code == 200
        status = subprocess.run([sys.executable, "-m", "finhub", "status"], env=env, cwd=tmp_path,
                                capture_output=True, text=True, timeout=60)
        assert status.returncode == 1 and "queue maintenance: 1 waiting and no live worker" in status.stdout

        # No key, password or token in any page, response, metric or command output.
        outputs = {path: requests.get(url + path, timeout=30).text for path in READS}
        outputs["POST unknown"] = requests.post(f"{url}/api/jobs/nope/trigger", headers=auth, timeout=30).text
        for command in (["status"], ["status", "--json"], ["workers"], ["config"]):
            done = subprocess.run([sys.executable, "-m", "finhub", *command], env=env, cwd=tmp_path,
                                  capture_output=True, text=True, timeout=60)
            outputs[" ".join(command)] = done.stdout + done.stderr
        assert "redis://:***@127.0.0.1" in outputs["/api/status"]
        assert {k: _leaks(v) for k, v in outputs.items() if _leaks(v)} == {}

        # Redis stopped: not ready, saying why; every endpoint still answers (503 or a page), never a 500.
        lease.release()
        server.shutdown()
        down = requests.get(f"{url}/readyz", timeout=30)
        assert down.status_code == 503 and down.json()["reasons"][0].startswith("redis: Redis unreachable at redis://:***@")
        for path in READS:
            response = requests.get(url + path, timeout=30)
            assert response.status_code < 500 or response.status_code == 503, (path, response.text[:300])
            assert not _leaks(response.text), path
        assert requests.get(f"{url}/api/queues", timeout=30).status_code == 503
        assert requests.get(f"{url}/api/status", timeout=30).json()["redis"]["ok"] is False
        assert _samples(url)["finhub_up"][(("service", "redis"),)] == 0
    finally:
        stop(web)


@pytest.fixture
def web_db():
    yield from flushed(WEB_DB)


@pytest.mark.slow
def test_the_driver_serves_the_web_page_beside_the_scheduler_and_its_workers(tmp_path, web_db):
    port = free_port()
    with Sandbox() as sandbox:
        env = _env(sandbox, f"redis://127.0.0.1:6379/{WEB_DB}", tmp_path / "var")
        driver = subprocess.Popen([sys.executable, str(ROOT / "start_background_jobs.py"), "--workers", "1", "--web",
                                   str(port)], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True)
        url = f"http://127.0.0.1:{port}"
        try:
            def ready() -> bool:
                try:
                    return requests.get(f"{url}/readyz", timeout=5).status_code == 200
                except requests.RequestException:
                    return False
            assert wait_for(ready, 90), requests.get(f"{url}/readyz", timeout=5).text
            family = {p.pid for p in psutil.Process(driver.pid).children(recursive=True)}
            assert wait_for(lambda: requests.get(f"{url}/api/workers", timeout=5).json()["workers"], 30)
            (worker,) = requests.get(f"{url}/api/workers", timeout=5).json()["workers"]
            assert worker["pid"] in family and worker["host"] == socket.gethostname()
            assert {"prices", "validation", "history", "maintenance"} <= set(worker["queues"])
            assert worker["age_s"] >= 0 and worker["last_beat_s"] < 10
            listed = subprocess.run([sys.executable, "-m", "finhub", "workers"], env=env, cwd=tmp_path,
                                    capture_output=True, text=True, timeout=60)
            assert str(worker["pid"]) in listed.stdout
            jobs = {j["job"]: j for j in requests.get(f"{url}/api/jobs", timeout=5).json()["jobs"]}
            assert jobs["crypto_quotes"]["schedule"] == "every 360 s"
            now = datetime.now(UTC)
            for name in ("crypto_quotes", "stock_quotes", "health", "cleanup", "market_open"):
                assert datetime.fromisoformat(jobs[name]["next_run"]) > now, jobs[name]
            assert jobs["crypto_quotes"]["outcome"] == "ok"
        finally:
            driver.send_signal(signal.SIGINT)
            out = driver.communicate(timeout=60)[0]
        assert driver.returncode == 0, out[-3000:]
        time.sleep(0.5)
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{url}/healthz", timeout=5)
        assert not web_db.exists("finhub:scheduler:lease")


@pytest.mark.slow
def test_workers_serve_dramatiqs_own_metrics_on_loopback_when_a_port_is_set(tmp_path, web_db):
    port = free_port()
    env = clean_env(FINHUB_REDIS_URL=f"redis://127.0.0.1:6379/{WEB_DB}", FINHUB_DATA_DIR=str(tmp_path / "var"),
                    FINHUB_WORKER_METRICS_PORT=str(port), dramatiq_prom_db=str(tmp_path / "prom"))
    workers = subprocess.Popen([sys.executable, "-m", "finhub.runtime.dramatiq_cli", "actors", "-p", "1", "-t", "1"],
                               env=env, cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        def served() -> str:
            try:
                return requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except requests.RequestException:
                return ""
        # dramatiq's counters appear once a worker has processed a message.
        subprocess.run([sys.executable, "-m", "finhub", "trigger", "health"], env=env, cwd=tmp_path, check=True,
                       capture_output=True, timeout=60)
        assert wait_for(lambda: 'dramatiq_messages_total{actor_name="health"' in served(), 60), _ended(workers)
        listening = [c.laddr for p in psutil.Process(workers.pid).children(recursive=True)
                     for c in p.net_connections("tcp") if c.status == psutil.CONN_LISTEN and c.laddr.port == port]
        assert [a.ip for a in listening] == ["127.0.0.1"]
    finally:
        _ended(workers)


def _ended(proc: subprocess.Popen) -> str:
    """Stop ``proc``'s process group; its output."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    return proc.communicate(timeout=30)[0][-3000:]
