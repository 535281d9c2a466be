"""Error classes from each provider's real error shapes, batching, timeouts and mixed batches."""

import time
from datetime import UTC, datetime, timedelta

import pytest

from finhub.config import load_settings
from finhub.model import Asset, AssetType
from finhub.sandbox.samples import error_body
from finhub.universe import build_universe
from providers.alphavantage import AlphaVantageProvider
from providers.base import BadResponse, BadSymbol, QuotaExhausted, RateLimited, Unavailable

UNIVERSE = build_universe()
NOW = datetime.now(UTC)


def synthetic_stocks(n):
    return [Asset(f"S{i:03d}", AssetType.STOCK, yahoo=f"S{i:03d}", alphavantage=f"S{i:03d}") for i in range(n)]


def synthetic_cryptos(n):
    return [Asset(f"C{i:03d}", AssetType.CRYPTO, coingecko_id=f"coin-{i:03d}") for i in range(n)]


@pytest.mark.parametrize("n", [1, 50, 51, 120])
def test_yahoo_costs_one_call_per_50_symbols(sandbox, yahoo, n):
    got = yahoo.quotes(synthetic_stocks(n))
    assert len(got.observations) == n and not got.errors
    assert sandbox.calls()["yahoo"]["/v7/finance/quote"] == -(-n // 50)


@pytest.mark.parametrize("n", [23, 250, 251])
def test_coingecko_costs_one_call_per_250_coins(sandbox, coingecko, n):
    got = coingecko.quotes(synthetic_cryptos(n))
    assert len(got.observations) == n
    assert sandbox.calls()["coingecko"]["/api/v3/simple/price"] == -(-n // 250)


def test_alphavantage_costs_one_call_per_symbol(sandbox, alphavantage):
    alphavantage.quotes(UNIVERSE.stocks[:3] + UNIVERSE.cryptos[:2])
    assert sandbox.calls()["alphavantage"] == {"GLOBAL_QUOTE": 3, "CURRENCY_EXCHANGE_RATE": 2}


def test_mixed_batches_keep_their_good_symbols(sandbox, yahoo, coingecko, alphavantage):
    sandbox.configure("yahoo", unknown_symbols=["ZZZZ"])
    sandbox.configure("coingecko", unknown_symbols=["no-such-coin"])
    bad_stock = Asset("ZZZZ", AssetType.STOCK, yahoo="ZZZZ", alphavantage="ZZZZ")
    sandbox.configure("alphavantage", unknown_symbols=["ZZZZ"])
    bad_coin = Asset("NOPE", AssetType.CRYPTO, coingecko_id="no-such-coin")
    for provider, assets, bad in [
        (yahoo, [UNIVERSE["AAPL"], bad_stock, UNIVERSE["HES"], UNIVERSE["MSFT"]], {"ZZZZ", "HES"}),
        (coingecko, [UNIVERSE["BTC"], bad_coin, UNIVERSE["ETH"]], {"NOPE"}),
        (alphavantage, [UNIVERSE["AAPL"], bad_stock, UNIVERSE["HES"]], {"ZZZZ", "HES"}),
    ]:
        got = provider.quotes(assets)
        assert set(got.errors) == bad and all(isinstance(e, BadSymbol) for e in got.errors.values())
        assert {o.symbol for o in got.observations} == {a.symbol for a in assets} - bad


def test_deprecated_coin_id_is_a_bad_symbol(sandbox, coingecko):
    matic_old = Asset("MATIC", AssetType.CRYPTO, coingecko_id="matic-network")
    got = coingecko.quotes([matic_old, UNIVERSE["BTC"]])
    assert isinstance(got.errors["MATIC"], BadSymbol) and "deprecated" in str(got.errors["MATIC"])


def test_yahoo_rate_limit_including_the_crumb_trap(sandbox, yahoo):
    sandbox.configure("yahoo", quotas={"per_minute": 0})
    with pytest.raises(RateLimited) as info:
        yahoo.quotes([UNIVERSE["AAPL"]])
    assert info.value.provider == "yahoo"
    sandbox.configure("yahoo", quotas={})
    # The crumb was a 429 body ("Edge: Too Many Requests"); it must not be sent again.
    assert yahoo.quotes([UNIVERSE["AAPL"]]).observations
    assert "Too Many" not in str(yahoo._data()._crumb)


def test_coingecko_rate_limit_json_and_html(sandbox, coingecko):
    sandbox.configure("coingecko", quotas={"per_minute": 0})
    with pytest.raises(RateLimited) as info:
        coingecko.quotes([UNIVERSE["BTC"]])
    assert info.value.retry_after == 60.0  # the retry-after header of the recorded 429
    sandbox.configure("coingecko", rate_limit_style="html")
    with pytest.raises(RateLimited):
        coingecko.quotes([UNIVERSE["BTC"]])


def test_alphavantage_information_and_note_bodies(sandbox, alphavantage):
    sandbox.configure("alphavantage", body=error_body("alphavantage_information"))
    with pytest.raises(QuotaExhausted):
        alphavantage.quotes([UNIVERSE["AAPL"]])
    sandbox.configure("alphavantage", body=error_body("alphavantage_note"))
    with pytest.raises(RateLimited):
        alphavantage.quotes([UNIVERSE["AAPL"]])
    sandbox.configure("alphavantage", body=error_body("alphavantage_error"))
    assert isinstance(alphavantage.quotes([UNIVERSE["AAPL"]]).errors["AAPL"], BadSymbol)


@pytest.mark.parametrize("name", ["yahoo", "coingecko", "alphavantage"])
def test_server_errors_are_unavailable(sandbox, yahoo, coingecko, alphavantage, name):
    provider = {"yahoo": yahoo, "coingecko": coingecko, "alphavantage": alphavantage}[name]
    sandbox.configure(name, error_rate=1.0)
    asset = UNIVERSE["BTC"] if name == "coingecko" else UNIVERSE["AAPL"]
    with pytest.raises(Unavailable) as info:
        provider.quotes([asset])
    assert info.value.category == "retry_later" and info.value.provider == name


@pytest.mark.parametrize("name", ["yahoo", "coingecko", "alphavantage"])
def test_hanging_endpoint_is_unavailable_within_the_timeout(sandbox, yahoo, coingecko, alphavantage, name):
    provider = {"yahoo": yahoo, "coingecko": coingecko, "alphavantage": alphavantage}[name]
    sandbox.configure(name, hang=True)
    asset = UNIVERSE["BTC"] if name == "coingecko" else UNIVERSE["AAPL"]
    started = time.monotonic()
    with pytest.raises(Unavailable):
        provider.quotes([asset])
    assert time.monotonic() - started < 1.0 + 0.5


def test_unknown_symbol_history(sandbox, yahoo, coingecko, alphavantage):
    for provider, asset in [(yahoo, UNIVERSE["HES"]), (alphavantage, UNIVERSE["HES"]),
                            (coingecko, Asset("MATIC", AssetType.CRYPTO, coingecko_id="matic-network"))]:
        with pytest.raises(BadSymbol):
            provider.history(asset, "1d", NOW - timedelta(days=10), NOW)


def test_stale_and_future_prices(sandbox, coingecko):
    sandbox.configure("coingecko", stale={"bitcoin": 3600})
    (obs,) = coingecko.quotes([UNIVERSE["BTC"]]).observations
    assert datetime.now(UTC) - obs.timestamp > timedelta(minutes=59)  # stale is data; validation judges
    sandbox.configure("coingecko", stale={"bitcoin": -86400})
    got = coingecko.quotes([UNIVERSE["BTC"]])
    assert isinstance(got.errors["BTC"], BadResponse) and "future" in str(got.errors["BTC"])


def test_alphavantage_is_off_without_a_key(caplog):
    assert AlphaVantageProvider.from_settings(load_settings(environ={})) is None
