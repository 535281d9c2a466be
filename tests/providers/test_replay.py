"""Each adapter, through its real client library against the sandbox, returns exactly the prices
of the recorded provider responses for their symbols and dates."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from finhub.model import Asset, AssetType
from finhub.sandbox.samples import SAMPLES_DIR
from finhub.universe import build_universe

UNIVERSE = build_universe()


def sample(path):
    return json.loads((SAMPLES_DIR / path).read_text())


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_yahoo_multi_symbol_quote(sandbox, yahoo):
    sandbox.set_clock(utc(2025, 2, 17, 12))
    recorded = {r["symbol"]: r for r in sample("yahoo/v7_quote_multi_AAPL_BABA.body.json")["quoteResponse"]["result"]}
    got = yahoo.quotes([UNIVERSE["AAPL"], Asset("BABA", AssetType.STOCK, yahoo="BABA")])
    assert not got.errors
    for obs in got.observations:
        rec = recorded[obs.symbol]
        assert obs.price == rec["regularMarketPrice"] and obs.provider == "yahoo"
        assert obs.timestamp == datetime.fromtimestamp(rec["regularMarketTime"], UTC)
        assert (obs.open, obs.high, obs.low) == (rec["regularMarketOpen"], rec["regularMarketDayHigh"],
                                                 rec["regularMarketDayLow"])
        assert obs.volume == rec["regularMarketVolume"] and obs.market_cap == rec["marketCap"]


def test_yahoo_crypto_quote_carries_our_symbol(sandbox, yahoo):
    sandbox.set_clock(utc(2025, 2, 17, 12))
    rec = sample("yahoo/v7_quote_BTC-USD.body.json")["quoteResponse"]["result"][0]
    (obs,) = yahoo.quotes([UNIVERSE["BTC"]]).observations
    assert (obs.symbol, obs.asset_type, obs.price) == ("BTC", AssetType.CRYPTO, rec["regularMarketPrice"])


@pytest.mark.parametrize("adjusted", [False, True])
def test_yahoo_daily_bars_of_the_split_period(sandbox, yahoo, adjusted):
    chart = sample("yahoo/v8_chart_AAPL_1d_2020-08-31_2020-11-07.body.json")["chart"]["result"][0]
    quote, adjclose = chart["indicators"]["quote"][0], chart["indicators"]["adjclose"][0]["adjclose"]
    yahoo.adjusted = adjusted
    try:
        bars = yahoo.history(UNIVERSE["AAPL"], "1d", utc(2020, 8, 31), utc(2020, 11, 7))
    finally:
        yahoo.adjusted = True
    assert len(bars) == len(chart["timestamp"]) == 49
    expected = adjclose if adjusted else quote["close"]
    assert [b.price for b in bars] == pytest.approx(expected, rel=1e-9)
    assert [b.timestamp.date() for b in bars] == [
        (datetime.fromtimestamp(t, UTC) - timedelta(hours=5)).date() for t in chart["timestamp"]]
    assert all(b.interval == "1d" and b.timestamp.tzinfo is not None for b in bars)


def test_coingecko_simple_price_with_every_field(sandbox, coingecko):
    sandbox.set_clock(utc(2024, 3, 25, 9))
    rec = sample("coingecko/simple_price_ids-bitcoin_include-all.docs-example.json")["bitcoin"]
    (obs,) = coingecko.quotes([UNIVERSE["BTC"]]).observations
    assert (obs.symbol, obs.price, obs.market_cap, obs.volume) == (
        "BTC", rec["usd"], rec["usd_market_cap"], rec["usd_24h_vol"])
    assert obs.timestamp == datetime.fromtimestamp(rec["last_updated_at"], UTC)


def test_coingecko_market_chart_range(sandbox, coingecko):
    rec = sample("coingecko/coins_id_market_chart.docs-example.json")
    bars = coingecko.history(UNIVERSE["BTC"], "1h", utc(2024, 3, 31), utc(2024, 4, 1, 16))
    assert [(b.timestamp, b.price) for b in bars] == [
        (datetime.fromtimestamp(ms / 1000, UTC), p) for ms, p in rec["prices"]]
    assert [b.market_cap for b in bars] == [v for _, v in rec["market_caps"]]


def test_coingecko_top_100_ranking(sandbox, coingecko):
    sandbox.set_clock(utc(2023, 1, 8, 17))
    rec = sample("coingecko/coins_markets_vs-usd_page1_per_page100_2023-01-08.json")
    top = coingecko.top_cryptos(100)
    assert [(c.rank, c.coingecko_id, c.price) for c in top] == [
        (r["market_cap_rank"], r["id"], r["current_price"]) for r in rec]
    assert top[0].symbol == "BTC" and top[0].timestamp == datetime(2023, 1, 8, 16, 49, 40, 132000, UTC)


@pytest.mark.parametrize("day, path", [((2025, 5, 13), "coingecko/search_trending_2025.json"),
                                       ((2023, 1, 8), "coingecko/search_trending_2023-01.json")])
def test_coingecko_trending_in_both_formats(sandbox, coingecko, day, path):
    sandbox.set_clock(utc(*day, 12))
    rec = sample(path)["coins"]
    trending = coingecko.trending()
    assert [c.coingecko_id for c in trending] == [c["item"]["id"] for c in rec]
    assert [c.rank for c in trending] == list(range(1, len(rec) + 1))
    if "data" in rec[0]["item"]:
        assert trending[0].price == rec[0]["item"]["data"]["price"]


@pytest.mark.parametrize("symbol, day, path", [
    ("MSFT", (2018, 10, 5), "alphavantage/GLOBAL_QUOTE_MSFT_2018-10-05.json"),
    ("IBM", (2020, 5, 8), "alphavantage/GLOBAL_QUOTE_IBM_2020-05-08.json"),
])
def test_alphavantage_global_quote(sandbox, alphavantage, symbol, day, path):
    sandbox.set_clock(utc(*day, 22))
    rec = sample(path)["Global Quote"]
    (obs,) = alphavantage.quotes([UNIVERSE[symbol]]).observations
    assert obs.price == float(rec["05. price"]) and obs.volume == float(rec["06. volume"])
    assert obs.timestamp == datetime.fromisoformat(rec["07. latest trading day"] + "T20:00:00+00:00")


def test_alphavantage_daily_series_sliced_to_the_range(sandbox, alphavantage):
    sandbox.set_clock(utc(2018, 6, 8, 22))
    real_clock, alphavantage.clock = alphavantage.clock, lambda: utc(2018, 6, 8, 22)
    series = sample("alphavantage/TIME_SERIES_DAILY_MSFT_compact_2018-06-08.json")["Time Series (Daily)"]
    try:
        bars = alphavantage.history(UNIVERSE["MSFT"], "1d", utc(2018, 6, 1), utc(2018, 6, 9))
    finally:
        alphavantage.clock = real_clock
    assert [(b.timestamp.date().isoformat(), b.price) for b in bars] == sorted(
        (d, float(v["4. close"])) for d, v in series.items() if "2018-06-01" <= d <= "2018-06-08")
