"""The asset universe: defaults, explicit provider ids, user additions and removals, strict checks."""

import subprocess
import sys

import pytest

from finhub.config import AssetsSettings, SettingsError
from finhub.model import AssetType
from finhub.universe import build_universe

STOCKS = ["AAPL", "MSFT", "GOOGL", "AMZN", "TSLA", "META", "NVDA", "ADBE", "CRM", "INTC", "AMD", "QCOM", "AVGO", "CSCO", "IBM", "ORCL", "JPM", "BAC", "V", "MA", "JNJ", "UNH", "PFE", "WMT", "PG", "KO", "PEP", "COST", "DIS", "NFLX", "CAT", "DE", "GE", "HON", "MMM", "BA", "NOC", "RTX", "GD", "LMT", "XOM", "CVX", "COP", "HES", "SLB", "TXN", "NOW", "INTU", "ACN"]
CRYPTOS = ["BTC", "ETH", "BNB", "XRP", "ADA", "DOGE", "SOL", "DOT", "MATIC", "LTC", "AVAX", "ATOM", "XLM", "ETC", "XMR", "ALGO", "LINK", "UNI", "AAVE", "FIL", "VET", "NEAR", "XTZ"]


def test_default_universe_is_the_documented_one():
    u = build_universe()
    assert [a.symbol for a in u if a.asset_type == AssetType.STOCK] == STOCKS
    assert [a.symbol for a in u if a.asset_type == AssetType.CRYPTO] == CRYPTOS
    assert len(STOCKS) == 49 and len(CRYPTOS) == 23


def test_every_asset_has_explicit_provider_names():
    u = build_universe()
    assert u["BTC"].coingecko_id == "bitcoin" and u["BTC"].yahoo == "BTC-USD"
    assert u["AAPL"].yahoo == "AAPL" and u["AAPL"].alphavantage == "AAPL"
    for crypto in u.of_type(AssetType.CRYPTO, active_only=False):
        assert crypto.coingecko_id and crypto.yahoo
    ids = [a.coingecko_id for a in u if a.coingecko_id]
    assert len(ids) == len(set(ids))


def test_real_life_changes_surface_as_notices():
    u = build_universe()
    assert not u["HES"].active and "HES" not in {a.symbol for a in u.stocks}
    assert u["MATIC"].active and u["MATIC"].coingecko_id == "polygon-ecosystem-token"
    notices = dict(u.notices)
    assert "delisted" in notices["HES"] and "POL" in notices["MATIC"]
    assert len(u.stocks) == 48 and len(u.cryptos) == 23


def test_users_add_and_remove_assets():
    u = build_universe(AssetsSettings(
        remove=["HES", "MATIC"],
        stocks=[{"symbol": "BRK.B", "yahoo": "BRK-B", "alphavantage": "BRK.B"}, {"symbol": "SHOP"}],
        cryptos=[{"symbol": "POL", "coingecko_id": "polygon-ecosystem-token", "yahoo": "POL28321-USD"}],
    ))
    assert "HES" not in u and "MATIC" not in u
    assert u["BRK.B"].yahoo == "BRK-B" and u["SHOP"].yahoo == "SHOP"
    assert u["POL"].coingecko_id == "polygon-ecosystem-token" and u["POL"].alphavantage is None


@pytest.mark.parametrize("config, key", [
    (AssetsSettings(cryptos=[{"symbol": "PEPE"}]), "assets.cryptos[0].coingecko_id"),
    (AssetsSettings(cryptos=[{"symbol": "WBTC", "coingecko_id": "Wrapped Bitcoin"}]), "assets.cryptos[0].coingecko_id"),
    (AssetsSettings(stocks=[{"symbol": "aapl"}]), "assets.stocks[0].symbol"),
    (AssetsSettings(stocks=[{"symbol": "X; DROP TABLE"}]), "assets.stocks[0].symbol"),
    (AssetsSettings(stocks=[{"symbol": "AAPL"}]), "assets.stocks[0]"),
    (AssetsSettings(stocks=[{"symbol": "ZZ", "exchange": "NYSE"}]), "assets.stocks[0].exchange"),
    (AssetsSettings(stocks=["ZZ"]), "assets.stocks[0]"),
    (AssetsSettings(remove=["NOPE"]), "assets.remove[0]"),
    (AssetsSettings(cryptos=[{"symbol": "WBTC", "coingecko_id": "bitcoin"}]), "assets"),
])
def test_bad_assets_are_config_errors_naming_the_key(config, key):
    with pytest.raises(SettingsError) as info:
        build_universe(config)
    assert info.value.key == key


def test_select_names_unknown_symbols():
    u = build_universe()
    assert [a.symbol for a in u.select(["BTC", "AAPL"])] == ["BTC", "AAPL"]
    with pytest.raises(KeyError, match="NOPE"):
        u.select(["BTC", "NOPE"])


def test_a_reader_that_leaves_early_gets_no_traceback(cli_database):
    # `finhub universe | head -1` when head has already gone: every write meets a closed pipe
    proc = subprocess.run(f"{sys.executable} -m finhub universe | true", shell=True, capture_output=True,
                          text=True, timeout=60)
    assert proc.stderr == ""
