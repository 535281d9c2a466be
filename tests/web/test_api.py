"""The REST API over a real Redis db and SQLite store: every read endpoint, the status document the
CLI prints, the bearer token, triggers, readiness and parameter errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests

from finhub.cli import main
from finhub.config import load_settings
from finhub.runtime.lease import Lease
from finhub.storage import upsert_prices
from finhub.universe import build_universe
from tests.redis_dbs import WEB_DB
from tests.web.conftest import TOKEN, serving

READS = ["/healthz", "/api/status", "/api/queues", "/api/jobs", "/api/providers", "/api/workers", "/api/prices",
         "/api/prices?symbols=AAPL,BTC&interval=1d", "/api/prices/AAPL/history", "/api/quarantine?since=6h",
         "/metrics", "/", "/?symbol=BTC&range=30d", "/openapi.json", "/static/dashboard.js"]
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _fresh_quotes(engine, symbols=None, age=timedelta(seconds=5)):
    now = datetime.now(UTC).replace(microsecond=0)
    assets = [a for a in build_universe() if a.active and (symbols is None or a.symbol in symbols)]
    upsert_prices(engine, [{"symbol": a.symbol, "asset_type": str(a.asset_type), "interval": "quote", "price": 10.0,
                            "source": "yahoo", "timestamp": now - age} for a in assets])


def test_the_api_takes_every_interval_finhub_stores():
    from typing import get_args

    from finhub.model import INTERVALS
    from finhub.web.app import Interval

    assert get_args(Interval) == INTERVALS


def test_every_read_endpoint_answers_on_loopback_without_a_token(web_app):
    url, _ = web_app
    for path in READS:
        response = requests.get(url + path, timeout=10)
        assert response.status_code == 200, (path, response.text[:300])


def test_api_status_is_the_document_status_json_prints(web_app, cli_database, capsys):
    url, _ = web_app
    _fresh_quotes(cli_database, {"AAPL", "BTC"})
    assert main(["status", "--json"]) == 1  # no lease, stale assets
    printed = json.loads(capsys.readouterr().out)
    served = requests.get(f"{url}/api/status", timeout=10).json()

    def stable(doc):  # what may differ between two reads a moment apart
        doc = {k: v for k, v in doc.items() if k != "generated_at"}
        doc["assets"] = [{k: v for k, v in a.items() if k != "age_s"} for a in doc["assets"]]
        return doc
    assert stable(served) == stable(printed)
    assert {a["symbol"]: a["freshness"] for a in served["assets"]}["AAPL"] == "fresh"
    assert served["assets"][0]["freshness"] != "fresh"  # stale ones first
    assert any(line.startswith("scheduler: no driver holds the lease") for line in served["attention"])


@pytest.mark.parametrize("path, status, says", [
    ("/api/quarantine?since=yesterday", 400, "since"),
    ("/api/quarantine?limit=0", 422, "limit"),
    ("/api/prices?interval=4h", 422, "interval"),
    ("/api/prices?symbols=%3Cscript%3E", 400, "not a symbol"),
    ("/api/prices/AAPL/history?start=notatime", 422, "start"),
    ("/api/prices/AAPL/history?limit=100000", 422, "limit"),
    ("/api/prices/ZZZZ/history", 404, "unknown symbol"),
    ("/?range=2h", 422, "range"),
])
def test_bad_parameters_get_a_400_or_422_with_a_message(web_app, path, status, says):
    url, _ = web_app
    response = requests.get(url + path, timeout=10)
    assert response.status_code == status and says in response.text, response.text


def test_history_is_paged_oldest_first(web_app, cli_database):
    url, _ = web_app
    start = datetime(2026, 1, 1, tzinfo=UTC)
    upsert_prices(cli_database, [{"symbol": "AAPL", "asset_type": "stock", "interval": "1d", "price": 100.0 + i,
                                  "source": "yahoo", "timestamp": start + timedelta(days=i)} for i in range(25)])
    seen, after = [], None
    while True:
        page = requests.get(f"{url}/api/prices/AAPL/history", params={"limit": 10, **({"after": after} if after
                                                                                      else {})}, timeout=10).json()
        seen += [r["price"] for r in page["rows"]]
        after = page["next"]
        if after is None:
            break
    assert seen == [100.0 + i for i in range(25)]
    ranged = requests.get(f"{url}/api/prices/AAPL/history", params={"start": "2026-01-05T00:00:00Z",
                                                                    "end": "2026-01-08"}, timeout=10).json()
    assert [r["timestamp"] for r in ranged["rows"]] == [f"2026-01-0{d}T00:00:00Z" for d in (5, 6, 7)]


def test_readyz_needs_the_lease_and_fresh_quotes(web_app, cli_database):
    url, redis = web_app
    response = requests.get(f"{url}/readyz", timeout=10)
    assert response.status_code == 503
    reasons = response.json()["reasons"]
    assert any("lease" in r for r in reasons) and any("no fresh quote" in r for r in reasons)
    _fresh_quotes(cli_database)
    lease = Lease(redis)
    assert lease.refresh()
    response = requests.get(f"{url}/readyz", timeout=10)
    assert response.status_code == 200, response.text
    lease.release()
    assert requests.get(f"{url}/readyz", timeout=10).json()["reasons"] == ["scheduler: no driver holds the lease"]


def test_off_loopback_every_read_but_the_health_checks_needs_the_token(cli_database, web_redis, monkeypatch):
    from finhub.web.app import create_app

    monkeypatch.setenv("FINHUB_WEB_TOKEN", TOKEN)
    with serving(create_app(load_settings(), f"redis://127.0.0.1:6379/{WEB_DB}", loopback=False)) as url:
        assert requests.get(f"{url}/healthz", timeout=10).status_code == 200
        assert requests.get(f"{url}/readyz", timeout=10).status_code == 503
        for path in ("/api/status", "/metrics", "/openapi.json"):
            assert requests.get(url + path, timeout=10).status_code == 401
            assert requests.get(url + path, headers=AUTH, timeout=10).status_code == 200
        page = requests.get(url, timeout=10)
        assert page.status_code == 401 and 'id="login"' in page.text
        assert requests.get(url, cookies={"finhub_token": TOKEN}, timeout=10).status_code == 200
        assert requests.get(f"{url}/api/status", headers={"Authorization": "Bearer pässwörd".encode("latin-1")},
                            timeout=10).status_code == 401
        # The cookie does not authorise a POST: only the header does.
        assert requests.post(f"{url}/api/jobs/health/trigger", cookies={"finhub_token": TOKEN},
                             timeout=10).status_code == 401


def test_finhub_web_refuses_a_non_loopback_address_without_a_token(cli_database, capsys):
    assert main(["web", "--host", "0.0.0.0", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not loopback" in err and "FINHUB_WEB_TOKEN" in err


def test_cli_workers_says_when_none_is_live(cli_database, web_redis, capsys):
    web_redis.zadd("dramatiq:__heartbeats__", {"sender-only": datetime.now(UTC).timestamp() * 1000})
    assert main(["workers"]) == 0
    assert "no live worker" in capsys.readouterr().out  # a process that only sends is no worker
