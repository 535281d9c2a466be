"""The sandbox looks like the market: prices at the recorded levels, the recorded coins' names in
the top-100 and trending lists, and bars that do not repeat week after week."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import requests

from finhub.sandbox import Sandbox, generator
from finhub.sandbox.levels import STOCK_SYMBOLS, recorded_levels
from finhub.sandbox.samples import SAMPLES_DIR

FRIDAY = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def _sample(relative):
    return json.loads((SAMPLES_DIR / relative).read_text())


@pytest.fixture(scope="module")
def sb():
    with Sandbox() as sandbox:
        sandbox.set_clock(FRIDAY)
        yield sandbox


def test_levels_are_read_from_the_recorded_samples():
    levels = recorded_levels()
    aapl = next(r for r in _sample("yahoo/v7_quote_multi_AAPL_BABA.body.json")["quoteResponse"]["result"]
                if r["symbol"] == "AAPL")
    assert levels["AAPL"] == aapl["regularMarketPrice"]
    trending_btc = next(c["item"]["data"]["price"] for c in _sample("coingecko/search_trending_2025.json")["coins"]
                        if c["item"]["id"] == "bitcoin")
    assert levels["BTC"] == trending_btc   # the most recently recorded price wins
    assert levels["USDT"] == pytest.approx(1.0, abs=0.01)


def test_prices_stay_near_their_recorded_level():
    levels = recorded_levels()
    for symbol in ("BTC", "ETH", "AAPL", "MSFT", "IBM", "USDT"):
        for day in range(0, 120, 7):
            value = generator.price(symbol, FRIDAY - timedelta(days=day))
            assert 0.75 < value / levels[symbol] < 1.25, (symbol, day, value)


def test_assets_without_a_sample_get_a_level_usual_for_their_kind():
    unrecorded_stocks = [s for s in STOCK_SYMBOLS if s not in recorded_levels()]
    assert unrecorded_stocks
    assert all(10 <= generator.base_price(s) <= 1000 for s in unrecorded_stocks)
    assert 0.1 <= generator.base_price("NOSUCHCOIN") <= 100


def test_daily_closes_do_not_repeat_week_after_week():
    closes = [generator.price("AAPL", FRIDAY - timedelta(days=d)) for d in range(0, 91)]
    week_apart = [abs(closes[d] / closes[d + 7] - 1) for d in range(len(closes) - 7)]
    assert sum(1 for change in week_apart if change < 0.001) < 5   # a weekly cycle would make these ~0
    assert max(closes) / min(closes) > 1.03                        # and it does move


def test_quotes_through_the_apis_are_at_the_recorded_level(sb):
    yahoo = requests.get(f"{sb.url}/v7/finance/quote", params={"symbols": "AAPL,BTC-USD"}).json()
    quoted = {r["symbol"]: r["regularMarketPrice"] for r in yahoo["quoteResponse"]["result"]}
    assert 0.75 < quoted["AAPL"] / recorded_levels()["AAPL"] < 1.25
    assert 0.75 < quoted["BTC-USD"] / recorded_levels()["BTC"] < 1.25


def test_the_top_100_and_trending_are_the_recorded_coins(sb):
    top = requests.get(f"{sb.coingecko_url}coins/markets",
                       params={"vs_currency": "usd", "per_page": 100, "page": 1}).json()
    assert len(top) == 100
    assert not any(re.fullmatch(r"COIN\d+", row["symbol"].upper()) for row in top)
    recorded = _sample("coingecko/coins_markets_vs-usd_page1_per_page100_2023-01-08.json")
    recorded_names = {row["name"] for row in recorded}
    assert sum(row["name"] in recorded_names for row in top) >= 90
    assert [row["name"] for row in top[:2]] == ["Bitcoin", "Ethereum"]
    assert {"Tether", "USD Coin"} <= {row["name"] for row in top[:10]}
    trending = requests.get(f"{sb.coingecko_url}search/trending").json()["coins"]
    trending_names = [c["item"]["name"] for c in _sample("coingecko/search_trending_2025.json")["coins"]]
    assert [c["item"]["name"] for c in trending] == trending_names
