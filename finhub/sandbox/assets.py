"""Who is who across providers: our canonical symbol for each provider's name of an asset."""

from __future__ import annotations

from functools import cache

from finhub.universe import DEFAULT_CRYPTOS, DEFAULT_STOCKS

#: Real-life dead names: answered the way the real providers answer for them.
DELISTED_STOCKS = frozenset({"HES", "BRKS"})
DEPRECATED_COIN_IDS = frozenset({"matic-network"})


@cache
def _maps() -> tuple[dict, dict, dict]:
    yahoo = {a.yahoo: a.symbol for a in DEFAULT_STOCKS + DEFAULT_CRYPTOS if a.yahoo}
    from finhub.sandbox.levels import recorded_coins

    # The universe's coins, then the recorded top-100 and trending coins under their own symbols.
    coingecko = {c.coin_id: c.symbol for c in recorded_coins()} | {a.coingecko_id: a.symbol for a in DEFAULT_CRYPTOS}
    alphavantage = {a.alphavantage: a.symbol for a in DEFAULT_STOCKS + DEFAULT_CRYPTOS if a.alphavantage}
    return yahoo, coingecko, alphavantage


def from_yahoo(symbol: str) -> str:
    return _maps()[0].get(symbol) or symbol.removesuffix("-USD")


def from_coingecko(coin_id: str) -> str:
    return _maps()[1].get(coin_id) or coin_id.upper()


def from_alphavantage(symbol: str) -> str:
    return _maps()[2].get(symbol, symbol)


def coingecko_id(symbol: str) -> str:
    """The CoinGecko id of a canonical crypto symbol (for rankings)."""
    universe = {a.symbol: a.coingecko_id for a in DEFAULT_CRYPTOS}
    return universe.get(symbol) or {v: k for k, v in _maps()[1].items()}.get(symbol, symbol.lower())


def is_yahoo_crypto(symbol: str) -> bool:
    return symbol.endswith("-USD")
