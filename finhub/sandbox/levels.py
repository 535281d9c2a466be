"""Price levels and coin names read from the recorded samples, so the generated market looks like
the real one: BTC near its recorded price, AAPL near its recorded quote, a top-100 and a trending
list of real coins.

Every recorded price is a level (canonical symbol -> USD); when several samples price an asset the
most recently recorded one wins. Assets no sample prices get a level from their symbol's hash in a
range usual for their kind (stocks 10-1,000 USD, coins 0.1-100 USD).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import cache

from finhub.sandbox.samples import SAMPLES_DIR
from finhub.universe import DEFAULT_CRYPTOS, DEFAULT_STOCKS

#: Coin lists recorded from CoinGecko, with their recording day.
MARKETS_SAMPLE = ("coingecko/coins_markets_vs-usd_page1_per_page100_2023-01-08.json", date(2023, 1, 8))
TRENDING_SAMPLE = ("coingecko/search_trending_2025.json", date(2025, 5, 13))


@dataclass(frozen=True)
class Coin:
    """A coin the recorded lists name: CoinGecko's id, our canonical symbol, its name, and its
    circulating supply (market cap over price) as recorded."""

    coin_id: str
    symbol: str
    name: str
    supply: float


def _load(relative: str):
    return json.loads((SAMPLES_DIR / relative).read_text())


def _universe_symbol(coin_id: str, sample_symbol: str) -> str:
    """Our canonical symbol of a CoinGecko coin: the universe's, else the coin's own (upper case)."""
    return next((a.symbol for a in DEFAULT_CRYPTOS if a.coingecko_id == coin_id), sample_symbol.upper())


def _money(value) -> float:
    return float(str(value).replace("$", "").replace(",", "") or 0)


@cache
def recorded_levels() -> dict[str, float]:
    """Canonical symbol -> the most recently recorded USD price of it in any sample."""
    found: dict[str, tuple[date, float]] = {}

    def put(symbol: str, day: date, value) -> None:
        try:
            value = float(value)
        except (TypeError, ValueError):
            return
        if value > 0 and (symbol not in found or found[symbol][0] < day):
            found[symbol] = (day, value)

    yahoo_names = {a.yahoo: a.symbol for a in DEFAULT_STOCKS + DEFAULT_CRYPTOS if a.yahoo}
    for relative, day in (("yahoo/v7_quote_multi_AAPL_BABA.body.json", date(2025, 2, 17)),
                          ("yahoo/v7_quote_BTC-USD.body.json", date(2025, 2, 17))):
        for entry in _load(relative)["quoteResponse"]["result"]:
            symbol = entry["symbol"]
            put(yahoo_names.get(symbol, symbol.removesuffix("-USD")), day, entry.get("regularMarketPrice"))
    chart = _load("yahoo/v8_chart_MSFT_1d_2021-02-01_2022-01-31_div.body.json")["chart"]["result"][0]
    put("MSFT", date(2022, 1, 31), chart["meta"].get("regularMarketPrice"))
    for relative, day in (("alphavantage/GLOBAL_QUOTE_IBM_2020-05-08.json", date(2020, 5, 8)),
                          ("alphavantage/GLOBAL_QUOTE_MSFT_2018-10-05.json", date(2018, 10, 5))):
        quote = _load(relative)["Global Quote"]
        put(quote["01. symbol"], day, quote["05. price"])
    put("BTC", date(2024, 3, 25),
        _load("coingecko/simple_price_ids-bitcoin_include-all.docs-example.json")["bitcoin"]["usd"])
    for row in _load(MARKETS_SAMPLE[0]):
        put(_universe_symbol(row["id"], row["symbol"]), MARKETS_SAMPLE[1], row.get("current_price"))
    for coin in _load(TRENDING_SAMPLE[0])["coins"]:
        item = coin["item"]
        put(_universe_symbol(item["id"], item["symbol"]), TRENDING_SAMPLE[1], item.get("data", {}).get("price"))
    return {symbol: value for symbol, (_, value) in found.items()}


@cache
def recorded_coins() -> tuple[Coin, ...]:
    """Every coin of the recorded top-100 and trending lists (top-100 order first), once each."""
    coins: dict[str, Coin] = {}
    for row in _load(MARKETS_SAMPLE[0]):
        if row.get("current_price") and row.get("market_cap"):
            coins.setdefault(row["id"], Coin(row["id"], _universe_symbol(row["id"], row["symbol"]), row["name"],
                                             row["market_cap"] / row["current_price"]))
    for coin in _load(TRENDING_SAMPLE[0])["coins"]:
        item = coin["item"]
        price, cap = item.get("data", {}).get("price"), _money(item.get("data", {}).get("market_cap"))
        if price and cap:
            coins.setdefault(item["id"], Coin(item["id"], _universe_symbol(item["id"], item["symbol"]),
                                              item["name"], cap / float(price)))
    return tuple(coins.values())


@cache
def trending_ids() -> tuple[str, ...]:
    """CoinGecko ids of the recorded trending list, in its order."""
    return tuple(c["item"]["id"] for c in _load(TRENDING_SAMPLE[0])["coins"])


@cache
def coin_by_id() -> dict[str, Coin]:
    return {c.coin_id: c for c in recorded_coins()}


@cache
def coin_by_symbol() -> dict[str, Coin]:
    by_symbol: dict[str, Coin] = {}
    for coin in recorded_coins():
        by_symbol.setdefault(coin.symbol, coin)
    return by_symbol


STOCK_SYMBOLS = frozenset(a.symbol for a in DEFAULT_STOCKS)
