"""Every recorded quote, replayed by the sandbox through the real adapters and judged at the moment
it was recorded, is stored exactly and none is rejected.

Cross-checks are off here: the other providers' answers for those moments were not recorded, the
sandbox would make them up.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from finhub.jobs import crosscheck
from finhub.model import Asset, AssetType
from finhub.sandbox.samples import SAMPLES_DIR
from finhub.storage import recent_quarantined


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def yahoo_prices(path):
    body = json.loads((SAMPLES_DIR / path).read_text())
    return {r["symbol"].removesuffix("-USD"): r["regularMarketPrice"] for r in body["quoteResponse"]["result"]}


def coingecko_prices(path):
    return {"BTC": json.loads((SAMPLES_DIR / path).read_text())["bitcoin"]["usd"]}


def alphavantage_prices(path):
    quote = json.loads((SAMPLES_DIR / path).read_text())["Global Quote"]
    return {quote["01. symbol"]: float(quote["05. price"])}


#: provider, symbols, moment of the recording, how to read the recorded prices, sample file
CASES = {
    "yahoo AAPL,BABA": ("yahoo", ["AAPL", "BABA"], utc(2025, 2, 17, 12), yahoo_prices,
                        "yahoo/v7_quote_multi_AAPL_BABA.body.json"),
    "yahoo BTC-USD": ("yahoo", ["BTC"], utc(2025, 2, 17, 10, 54), yahoo_prices, "yahoo/v7_quote_BTC-USD.body.json"),
    "coingecko bitcoin": ("coingecko", ["BTC"], utc(2024, 3, 25, 8, 46), coingecko_prices,
                          "coingecko/simple_price_ids-bitcoin_include-all.docs-example.json"),
    "alphavantage MSFT": ("alphavantage", ["MSFT"], utc(2018, 10, 5, 22), alphavantage_prices,
                          "alphavantage/GLOBAL_QUOTE_MSFT_2018-10-05.json"),
    "alphavantage IBM": ("alphavantage", ["IBM"], utc(2020, 5, 8, 22), alphavantage_prices,
                         "alphavantage/GLOBAL_QUOTE_IBM_2020-05-08.json"),
}


@pytest.mark.parametrize("case", CASES)
def test_recorded_quotes_are_stored_exactly(make_ctx, sandbox, case):
    provider, symbols, recorded_at, read, path = CASES[case]
    recorded = read(path)
    ctx = make_ctx(validation_crosscheck_crypto="false", validation_stock_spot_checks=0)
    sandbox.set_clock(recorded_at)
    assets = [ctx.universe[s] if s in ctx.universe else Asset(s, AssetType.STOCK, yahoo=s) for s in symbols]
    got = ctx.providers[provider].quotes(assets)
    assert not got.errors and len(got.observations) == len(symbols)
    decisions = crosscheck.validate_batch(ctx, got.observations, now=recorded_at)
    assert {d.symbol: str(d.status) for d in decisions} == dict.fromkeys(symbols, "single_source")
    with ctx.engine.connect() as c:
        rows = dict(c.execute(text("SELECT symbol, price FROM assets_assetpriceshistoric")).all())
    assert rows == recorded and recent_quarantined(ctx.engine) == []
    assert all(recorded_at - d.timestamp < timedelta(days=4) for d in decisions)
