"""Discovery's rules (finhub.discovery) and finhub.toml edits (finhub.config.edit), as named cases."""

import tomllib
from datetime import UTC, date, datetime

import pytest

from finhub.cli import main
from finhub.config import AssetsSettings, SettingsError
from finhub.config.edit import add_assets
from finhub.discovery import MIN_LISTINGS_TO_JUDGE, from_coins, from_listings, stable_or_wrapped
from finhub.model import Listing, RankedCoin
from finhub.universe import build_universe

NOW = datetime(2026, 12, 1, tzinfo=UTC)
UNIVERSE = build_universe()


def coin(rank: int, coin_id: str, symbol: str, name: str | None = None, cap: float = 1e9) -> RankedCoin:
    return RankedCoin(rank, coin_id, symbol, name or coin_id.title(), 1.0, cap, cap / 10, NOW)


MARKETS = [
    coin(1, "bitcoin", "BTC"),
    coin(2, "tether", "USDT", "Tether"),
    coin(3, "wrapped-bitcoin", "WBTC", "Wrapped Bitcoin"),
    coin(4, "lido-staked-ether", "STETH", "Lido Staked Ether"),
    coin(5, "hyperliquid", "HYPE"),
    coin(6, "uniswap-v4-fork", "UNI", "Uni Fork"),                 # UNI is uniswap in the universe
    coin(7, "1inch", "1INCH"),                                     # not a finhub symbol
    coin(8, "sui", "SUI", cap=5e8),
    coin(9, "sui-bridged-clone", "SUI", "Sui Clone", cap=4e8),     # the same ticker as a larger coin
    coin(10, "tron", "TRX", cap=1e8),
]


def test_the_largest_coins_come_first_with_their_ids_and_known_yahoo_tickers():
    found = from_coins(MARKETS, UNIVERSE, limit=4)
    assert [(c.symbol, c.coingecko_id, c.collected) for c in found.candidates] == [
        ("BTC", "bitcoin", True), ("USDT", "tether", False), ("WBTC", "wrapped-bitcoin", False),
        ("STETH", "lido-staked-ether", False)]
    assert found.candidates[1].yahoo == "USDT-USD" and found.candidates[3].yahoo is None
    assert found.candidates[1].entry() == {"symbol": "USDT", "coingecko_id": "tether", "yahoo": "USDT-USD"}
    assert [c.symbol for c in found.new] == ["USDT", "WBTC", "STETH"]


def test_exclude_stable_drops_stablecoins_and_wrapped_or_staked_tokens():
    found = from_coins(MARKETS, UNIVERSE, limit=3, exclude_stable=True)
    assert [c.symbol for c in found.candidates] == ["BTC", "HYPE", "SUI"]
    assert ("USDT (tether)", "stablecoin") in found.skipped
    assert ("WBTC (wrapped-bitcoin)", "wrapped or staked token") in found.skipped
    assert ("STETH (lido-staked-ether)", "wrapped or staked token") in found.skipped


def test_an_ambiguous_ticker_keeps_the_coin_that_holds_it_and_skips_the_other():
    found = from_coins(MARKETS, UNIVERSE, limit=10)
    assert ("UNI (uniswap-v4-fork)", "ticker UNI is already uniswap") in found.skipped
    assert ("SUI (sui-bridged-clone)", "ticker SUI is already sui") in found.skipped
    assert ("1INCH (1inch)", "not a valid finhub symbol") in found.skipped
    assert [c.coingecko_id for c in found.candidates if c.symbol == "SUI"] == ["sui"]


def test_min_market_cap_leaves_out_smaller_coins():
    found = from_coins(MARKETS, UNIVERSE, limit=10, min_market_cap=5e8, exclude_stable=True)
    assert [c.symbol for c in found.candidates] == ["BTC", "HYPE", "SUI"]


def test_a_coin_is_stable_or_wrapped_by_its_id_or_name():
    assert stable_or_wrapped(coin(1, "ethena-usde", "USDE")) == "stablecoin"
    assert stable_or_wrapped(coin(1, "some-coin", "XYZ", "Algorithmic Stablecoin")) == "stablecoin"
    assert stable_or_wrapped(coin(1, "weth", "WETH", "WETH Bridged")) == "wrapped or staked token"
    assert stable_or_wrapped(coin(1, "solana", "SOL")) is None


def listing(symbol, exchange="NYSE", kind="Stock", status="Active"):
    return Listing(symbol, f"{symbol} Inc", exchange, kind, date(2000, 1, 3), status)


LISTINGS = [listing("ZETA"), listing("AAPL", "NASDAQ"), listing("SPY", "NYSE ARCA", "ETF"), listing("AHL-P-C"),
            listing("BRK-B"), listing("OLD", status="Delisted"), listing("QQQ", "NASDAQ", "ETF"),
            listing("BTC", "NASDAQ")]


def test_listings_are_filtered_by_type_and_exchange_checked_and_alphabetical():
    found = from_listings(LISTINGS, "us_equities", UNIVERSE, limit=10)
    assert [(c.symbol, c.collected) for c in found.candidates] == [("AAPL", True), ("BRK-B", False),
                                                                  ("ZETA", False)]
    assert ("AHL-P-C", "not a valid finhub symbol") in found.skipped
    assert ("BTC", "ticker BTC is already a crypto") in found.skipped
    assert [c.symbol for c in from_listings(LISTINGS, "us_equities", UNIVERSE, 10, ["NYSE"]).candidates] == [
        "BRK-B", "ZETA"]
    assert [(c.symbol, c.kind) for c in from_listings(LISTINGS, "etf", UNIVERSE, 1).candidates] == [("QQQ", "etf")]


def test_vanished_stocks_are_judged_only_from_a_full_answer():
    assert from_listings(LISTINGS, "us_equities", UNIVERSE, 10).vanished == []     # a short answer: no verdict
    full = LISTINGS + [listing(f"X{i:04d}") for i in range(MIN_LISTINGS_TO_JUDGE)]
    vanished = from_listings(full, "us_equities", UNIVERSE, 10).vanished
    assert "MSFT" in vanished and "AAPL" not in vanished and "HES" not in vanished  # HES is delisted already


COMMENTED = """\
# my settings
[assets]   # what I collect
remove = ["DOGE"]  # no memes

[[assets.stocks]]
symbol = "SHOP"   # the one I like

[[assets.stocks]]
symbol = "GONE"
"""


def test_add_assets_appends_in_the_files_own_style_and_keeps_every_comment(tmp_path):
    path = tmp_path / "finhub.toml"
    path.write_text(COMMENTED)
    add_assets(path, stocks=[{"symbol": "NEW"}], cryptos=[{"symbol": "SUI", "coingecko_id": "sui"}],
               delisted={"GONE": date(2026, 12, 6)})
    text = path.read_text()
    lines, at = text.splitlines(), -1
    for line in COMMENTED.splitlines():          # every line, comments too, in its order
        at = lines.index(line, at + 1)
    assert "[[assets.stocks]]\nsymbol = \"NEW\"" in text
    parsed = tomllib.loads(text)["assets"]
    assert parsed["stocks"] == [{"symbol": "SHOP"}, {"symbol": "GONE", "delisted": date(2026, 12, 6)},
                                {"symbol": "NEW"}]
    assert parsed["cryptos"] == [{"symbol": "SUI", "coingecko_id": "sui"}]
    universe = build_universe(AssetsSettings(**parsed))
    assert not universe["GONE"].active and "GONE left the active US listings by 2026-12-06" in universe["GONE"].notice


def test_add_assets_creates_the_file_and_refuses_what_it_cannot_edit(tmp_path):
    path = tmp_path / "finhub.toml"
    add_assets(path, cryptos=[{"symbol": "SUI", "coingecko_id": "sui"}])
    assert tomllib.loads(path.read_text()) == {"assets": {"cryptos": [{"symbol": "SUI", "coingecko_id": "sui"}]}}

    path.write_text('[assets]\nstocks = "AAPL"  # wrong\n')
    with pytest.raises(SettingsError, match="assets.stocks: is not a list"):
        add_assets(path, stocks=[{"symbol": "NEW"}])
    with pytest.raises(SettingsError, match="no good"):
        add_assets(path, cryptos=[{"symbol": "SUI", "coingecko_id": "sui"}],
                   check=lambda parsed: (_ for _ in ()).throw(SettingsError("assets", "no good")))
    assert path.read_text() == '[assets]\nstocks = "AAPL"  # wrong\n'
    assert [p.name for p in tmp_path.iterdir()] == ["finhub.toml"]


def test_a_bad_delisted_date_is_a_settings_error():
    with pytest.raises(SettingsError, match=r"assets.stocks\[0\].delisted: 'soon' is not a date"):
        build_universe(AssetsSettings(stocks=[{"symbol": "ABC", "delisted": "soon"}]))


def test_plan_shows_the_universe_size(cli_database, capsys):
    main(["plan"])
    universe = build_universe()
    assert capsys.readouterr().out.splitlines()[0] == (f"universe: {len(universe.stocks)} stocks, "
                                                       f"{len(universe.cryptos)} cryptos collected "
                                                       f"({len(universe)} configured)")
