"""Triggering a job by hand, through ``POST /api/jobs/{job}/trigger`` of a ``finhub web`` process and
through ``finhub trigger``: exactly one run's messages land in the queue, only with the bearer token."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests

from tests.redis_dbs import WEB_DB, flushed
from tests.web.conftest import ROOT, TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def queues():
    yield from flushed(WEB_DB)


def _queued(redis, queue: str) -> list[dict]:
    """The bodies of the messages waiting on ``queue`` (the list holds the broker's own ids)."""
    return [json.loads(redis.hget(f"dramatiq:{queue}.msgs", i)) for i in redis.lrange(f"dramatiq:{queue}", 0, -1)]


def test_a_post_needs_the_bearer_token_and_enqueues_one_message(web_process, queues):
    url, _ = web_process
    trigger = f"{url}/api/jobs/health/trigger"
    assert requests.post(trigger, timeout=10).status_code == 401
    assert requests.post(trigger, headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 401
    assert queues.llen("dramatiq:maintenance") == 0
    done = requests.post(trigger, headers=AUTH, timeout=10)
    assert done.status_code == 200, done.text
    (message_id,) = done.json()["message_ids"]
    assert [(m["message_id"], m["actor_name"]) for m in _queued(queues, "maintenance")] == [(message_id, "health")]


def test_an_unknown_job_is_a_404_listing_the_jobs(web_process, queues):
    url, _ = web_process
    response = requests.post(f"{url}/api/jobs/nope/trigger", headers=AUTH, timeout=10)
    assert response.status_code == 404
    assert {"crypto_quotes", "stock_quotes", "health", "history"} <= set(response.json()["detail"]["jobs"])


def test_a_trigger_with_symbols_sends_only_those(web_process, queues):
    url, _ = web_process
    done = requests.post(f"{url}/api/jobs/crypto_quotes/trigger", json={"symbols": ["BTC", "ETH"]}, headers=AUTH,
                         timeout=10)
    assert done.status_code == 200, done.text
    assert [m["args"][0] for m in _queued(queues, "prices")] == [["BTC", "ETH"]]
    for body, needle in (({"symbols": ["NOPE1"]}, "NOPE1"), ({"symbols": ["BTC"], "symbol": "ETH"}, "symbol")):
        response = requests.post(f"{url}/api/jobs/crypto_quotes/trigger", json=body, headers=AUTH, timeout=10)
        assert response.status_code in (400, 422) and needle in response.text, response.text
    response = requests.post(f"{url}/api/jobs/health/trigger", json={"symbols": ["BTC"]}, headers=AUTH, timeout=10)
    assert response.status_code == 400 and "takes no symbols" in response.json()["detail"]
    # a body JSON cannot echo back (NaN) is a 422 too, not a 500
    response = requests.post(f"{url}/api/jobs/crypto_quotes/trigger", data="NaN",
                             headers={**AUTH, "Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 422, response.text
    assert queues.llen("dramatiq:prices") == 1 and queues.llen("dramatiq:maintenance") == 0


def test_cli_trigger_enqueues_once_and_names_the_jobs_it_knows(web_process, queues):
    _, env = web_process

    def trigger(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "finhub", "trigger", *args], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
    done = trigger("stock_quotes", "--symbols", "AAPL,MSFT")
    assert done.returncode == 0, done.stderr
    (message,) = _queued(queues, "prices")
    assert message["message_id"] in done.stdout and message["args"][0] == ["AAPL", "MSFT"]
    unknown = trigger("nope")
    assert unknown.returncode == 2 and "unknown job 'nope'" in unknown.stderr and "crypto_quotes" in unknown.stderr
    assert trigger("health", "--symbols", "BTC").returncode == 2
    assert queues.llen("dramatiq:prices") == 1 and queues.llen("dramatiq:maintenance") == 0
