"""The provider sandbox over plain HTTP: recorded bodies byte for byte, a deterministic generator on
which the providers agree, controls, counters, and the command line."""

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from finhub.sandbox import Sandbox, generator
from finhub.sandbox.samples import SAMPLES, SAMPLES_DIR

ROOT = Path(__file__).resolve().parents[2]
FRIDAY = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def sb():
    with Sandbox() as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def fresh(sb):
    sb.reset()


def test_recorded_bodies_are_served_byte_for_byte(sb):
    sb.set_clock(datetime(2025, 2, 17, 12, tzinfo=UTC))
    body = requests.get(f"{sb.url}/v7/finance/quote", params={"symbols": "BABA,AAPL", "crumb": "x"}).content
    assert body == (SAMPLES_DIR / "yahoo/v7_quote_multi_AAPL_BABA.body.json").read_bytes()
    sb.set_clock(datetime(2019, 4, 8, 12, tzinfo=UTC))
    body = requests.get(f"{sb.coingecko_url}simple/price", params={"ids": "ethereum,bitcoin",
                                                                   "vs_currencies": "usd,myr"}).content
    assert body == (SAMPLES_DIR / "coingecko/simple_price_ids-bitcoin_ethereum_vs-usd_myr.json").read_bytes()
    chart = requests.get(f"{sb.url}/v8/finance/chart/MSFT", params={"period1": 1612137600, "period2": 1643587200,
                                                                    "interval": "1d"}).content
    assert chart == (SAMPLES_DIR / "yahoo/v8_chart_MSFT_1d_2021-02-01_2022-01-31_div.body.json").read_bytes()


def test_every_registered_sample_file_exists():
    assert all((SAMPLES_DIR / s.file).is_file() for s in SAMPLES)


def test_generator_is_deterministic_and_providers_agree():
    for symbol in ("AAPL", "BTC", "XTZ"):
        prices = [generator.price(symbol, FRIDAY, p) for p in ("yahoo", "coingecko", "alphavantage")]
        assert prices == [generator.price(symbol, FRIDAY, p) for p in ("yahoo", "coingecko", "alphavantage")]
        assert max(prices) / min(prices) - 1 < 0.005


def test_the_same_asset_agrees_across_the_three_apis(sb):
    sb.set_clock(FRIDAY)
    yahoo = requests.get(f"{sb.url}/v7/finance/quote", params={"symbols": "BTC-USD"}).json()
    gecko = requests.get(f"{sb.coingecko_url}simple/price", params={"ids": "bitcoin", "vs_currencies": "usd"}).json()
    av = requests.get(sb.alphavantage_url, params={"function": "CURRENCY_EXCHANGE_RATE", "from_currency": "BTC",
                                                   "to_currency": "USD", "apikey": "k"}).json()
    prices = [yahoo["quoteResponse"]["result"][0]["regularMarketPrice"], gecko["bitcoin"]["usd"],
              float(av["Realtime Currency Exchange Rate"]["5. Exchange Rate"])]
    assert max(prices) / min(prices) - 1 < 0.005


def test_skew_and_counters_over_the_admin_endpoint(sb):
    sb.set_clock(FRIDAY)
    before = requests.get(f"{sb.coingecko_url}simple/price", params={"ids": "bitcoin", "vs_currencies": "usd"}).json()
    requests.post(f"{sb.url}/_sandbox/config", json={"provider": "coingecko", "skew": {"bitcoin": 5.0}})
    after = requests.get(f"{sb.coingecko_url}simple/price", params={"ids": "bitcoin", "vs_currencies": "usd"}).json()
    assert after["bitcoin"]["usd"] == pytest.approx(before["bitcoin"]["usd"] * 1.05, rel=1e-4)
    assert requests.get(f"{sb.url}/_sandbox/calls").json() == {"coingecko": {"/api/v3/simple/price": 2}}


def test_quotas_answer_like_each_provider(sb):
    for provider in ("yahoo", "coingecko", "alphavantage"):
        sb.configure(provider, quotas={"per_minute": 1})
    assert requests.get(f"{sb.url}/v1/test/getcrumb").status_code == 200
    crumb = requests.get(f"{sb.url}/v1/test/getcrumb")
    assert (crumb.status_code, crumb.text) == (429, "Edge: Too Many Requests")
    requests.get(f"{sb.coingecko_url}ping")
    limited = requests.get(f"{sb.coingecko_url}ping")
    assert limited.status_code == 429 and limited.json()["status"]["error_code"] == 429
    assert limited.headers["retry-after"] == "60"
    query = {"function": "GLOBAL_QUOTE", "symbol": "IBM", "apikey": "k"}
    requests.get(sb.alphavantage_url, params=query)
    note = requests.get(sb.alphavantage_url, params=query)
    assert note.status_code == 200 and "Note" in note.json()
    sb.configure("alphavantage", quotas={"per_day": 1})
    assert "Information" in requests.get(sb.alphavantage_url, params=query).json()
    assert sb.stats()["over_quota"] == {"yahoo": 1, "coingecko": 1, "alphavantage": 2}


def test_hang_is_bounded_by_the_client_and_released_on_stop():
    with Sandbox(yahoo={"hang": True}) as sandbox:
        started = time.monotonic()
        with pytest.raises(requests.Timeout):
            requests.get(f"{sandbox.url}/v7/finance/quote", params={"symbols": "AAPL"}, timeout=0.5)
        assert time.monotonic() - started < 1.5


def test_error_rate_and_stale(sb):
    sb.set_clock(FRIDAY)
    sb.configure("yahoo", error_rate=0.5, stale={"AAPL": 7200})
    answers = [requests.get(f"{sb.url}/v7/finance/quote", params={"symbols": "AAPL"}) for _ in range(4)]
    assert sorted(a.status_code >= 500 for a in answers) == [False, False, True, True]
    good = next(a for a in answers if a.ok).json()["quoteResponse"]["result"][0]
    assert good["regularMarketTime"] == int(FRIDAY.timestamp()) - 7200


def test_command_line_prints_the_settings_and_serves(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "finhub.sandbox", "--port", "0", "--quota", "yahoo:per_day=5"],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        banner = proc.stdout.readline()
        exports = [proc.stdout.readline().strip() for _ in range(3)]
        url = banner.split(" on ")[1].split()[0]
        assert exports[0].startswith("export FINHUB_YAHOO_URL=")
        assert requests.get(f"{url}/_sandbox/stats").json()["calls"] == {}
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
    bad = subprocess.run([sys.executable, "-m", "finhub.sandbox", "--quota", "yahoo:per_week=5"], cwd=ROOT,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "PROVIDER:WINDOW=N" in bad.stderr


def test_time_scale_shrinks_the_quota_windows():
    with Sandbox(time_scale=0.001, coingecko={"quotas": {"per_minute": 2}}) as sandbox:  # a 60 ms minute
        ping = lambda: requests.get(f"{sandbox.coingecko_url}ping").status_code  # noqa: E731
        assert [ping(), ping(), ping()] == [200, 200, 429]
        time.sleep(0.07)
        assert ping() == 200
        assert len(sandbox.state.served_at("coingecko")) == 3
