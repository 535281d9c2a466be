"""The asset universe: which stocks and cryptos finhub collects, and what each provider calls them.

A crypto is always identified by its explicit CoinGecko id, never by guessing from its ticker
(many coins share one). Assets that real life has changed carry a ``notice``: a delisted stock
keeps its history but is no longer quoted; a renamed coin is fetched under its new ids and
says so in the logs and in ``status``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from finhub.config import AssetsSettings, SettingsError
from finhub.model import Asset, AssetType

#: Our own symbol for an asset: upper-case letters and digits, optionally one class suffix (BRK.B).
SYMBOL_PATTERN = re.compile(r"[A-Z][A-Z0-9]{0,9}([.-][A-Z0-9]{1,4})?")
#: Yahoo symbols: AAPL, BRK-B, BTC-USD, UNI7083-USD, ^GSPC, EURUSD=X.
YAHOO_PATTERN = re.compile(r"\^?[A-Z0-9]{1,15}([.-][A-Z0-9]{1,6})?(=X)?")
#: Alpha Vantage symbols and currency codes.
ALPHAVANTAGE_PATTERN = re.compile(r"[A-Z0-9]{1,10}([.-][A-Z0-9]{1,4})?")
#: CoinGecko API ids: lower-case words joined by hyphens.
COINGECKO_ID_PATTERN = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def _stock(symbol: str, **kw) -> Asset:
    return Asset(symbol, AssetType.STOCK, yahoo=symbol, alphavantage=symbol, **kw)


def _crypto(symbol: str, coingecko_id: str, yahoo: str | None = None, **kw) -> Asset:
    kw.setdefault("alphavantage", symbol)
    return Asset(symbol, AssetType.CRYPTO, yahoo=yahoo or f"{symbol}-USD", coingecko_id=coingecko_id, **kw)


DEFAULT_STOCKS: tuple[Asset, ...] = tuple(
    _stock(s) for s in (  # noqa: SIM905 - a ticker list reads better as words
        "AAPL MSFT GOOGL AMZN TSLA META NVDA ADBE CRM INTC AMD QCOM AVGO CSCO IBM ORCL JPM BAC V MA "
        "JNJ UNH PFE WMT PG KO PEP COST DIS NFLX CAT DE GE HON MMM BA NOC RTX GD LMT XOM CVX COP"
    ).split()
) + (
    _stock("HES", delisted=date(2025, 7, 18),
           notice="HES was delisted on 2025-07-18 (acquired by Chevron, CVX): history is kept, "
                  "no live quotes are fetched; remove it with assets.remove = [\"HES\"]"),
) + tuple(_stock(s) for s in ["SLB", "TXN", "NOW", "INTU", "ACN"])

DEFAULT_CRYPTOS: tuple[Asset, ...] = (
    _crypto("BTC", "bitcoin"),
    _crypto("ETH", "ethereum"),
    _crypto("BNB", "binancecoin"),
    _crypto("XRP", "ripple"),
    _crypto("ADA", "cardano"),
    _crypto("DOGE", "dogecoin"),
    _crypto("SOL", "solana"),
    _crypto("DOT", "polkadot"),
    # CoinGecko deprecated "matic-network" after the 1:1 MATIC -> POL migration (2024-09-04);
    # it now answers with empty prices. POL's own ids keep the series going.
    _crypto("MATIC", "polygon-ecosystem-token", yahoo="POL28321-USD", alphavantage="POL",
            notice="MATIC was renamed POL on 2024-09-04 (1:1 migration): MATIC is priced as POL "
                   "(CoinGecko polygon-ecosystem-token, Yahoo POL28321-USD); consider adding POL "
                   "and removing MATIC"),
    _crypto("LTC", "litecoin"),
    _crypto("AVAX", "avalanche-2"),
    _crypto("ATOM", "cosmos"),
    _crypto("XLM", "stellar"),
    _crypto("ETC", "ethereum-classic"),
    _crypto("XMR", "monero"),
    _crypto("ALGO", "algorand"),
    _crypto("LINK", "chainlink"),
    _crypto("UNI", "uniswap", yahoo="UNI7083-USD"),
    _crypto("AAVE", "aave"),
    _crypto("FIL", "filecoin"),
    _crypto("VET", "vechain"),
    _crypto("NEAR", "near"),
    _crypto("XTZ", "tezos"),
)


@dataclass(frozen=True)
class Universe:
    """The configured assets, looked up by our symbol."""

    assets: tuple[Asset, ...]
    _by_symbol: dict[str, Asset] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_symbol", {a.symbol: a for a in self.assets})

    def __iter__(self):
        return iter(self.assets)

    def __len__(self) -> int:
        return len(self.assets)

    def __getitem__(self, symbol: str) -> Asset:
        return self._by_symbol[symbol]

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._by_symbol

    def of_type(self, asset_type: AssetType, active_only: bool = True) -> list[Asset]:
        return [a for a in self.assets if a.asset_type == asset_type and (a.active or not active_only)]

    @property
    def stocks(self) -> list[Asset]:
        return self.of_type(AssetType.STOCK)

    @property
    def cryptos(self) -> list[Asset]:
        return self.of_type(AssetType.CRYPTO)

    @property
    def notices(self) -> list[tuple[str, str]]:
        """(symbol, notice) for every asset real life has changed: log them, show them in status."""
        return [(a.symbol, a.notice) for a in self.assets if a.notice]

    def select(self, symbols: Iterable[str]) -> list[Asset]:
        """The assets named, in that order; an unknown symbol raises ``KeyError`` naming it."""
        missing = [s for s in symbols if s not in self]
        if missing:
            raise KeyError(f"not in the universe: {', '.join(missing)}")
        return [self[s] for s in symbols]


def build_universe(config: AssetsSettings | None = None) -> Universe:
    """The default universe with ``config``'s removals and additions applied and checked."""
    config = config or AssetsSettings()
    assets = {a.symbol: a for a in DEFAULT_STOCKS + DEFAULT_CRYPTOS}
    for i, symbol in enumerate(config.remove):
        key = f"assets.remove[{i}]"
        if symbol not in assets:
            raise SettingsError(key, f"{symbol!r} is not a default asset")
        del assets[symbol]
    added = [_parse_stock(entry, f"assets.stocks[{i}]") for i, entry in enumerate(config.stocks)]
    added += [_parse_crypto(entry, f"assets.cryptos[{i}]") for i, entry in enumerate(config.cryptos)]
    for asset, key in added:
        if asset.symbol in assets:
            raise SettingsError(key, f"{asset.symbol} is already in the universe")
        assets[asset.symbol] = asset
    _check_unique([a for a in assets.values() if a.coingecko_id], "coingecko_id")
    return Universe(tuple(assets.values()))


def _parse_stock(entry: object, key: str) -> tuple[Asset, str]:
    fields = _fields(entry, key, required=("symbol",), optional=("yahoo", "alphavantage", "delisted"))
    symbol = _checked(fields["symbol"], SYMBOL_PATTERN, f"{key}.symbol")
    delisted = _day(fields.get("delisted"), f"{key}.delisted")
    asset = Asset(
        symbol, AssetType.STOCK,
        yahoo=_checked(fields.get("yahoo", symbol), YAHOO_PATTERN, f"{key}.yahoo"),
        alphavantage=_checked(fields.get("alphavantage", symbol), ALPHAVANTAGE_PATTERN, f"{key}.alphavantage"),
        delisted=delisted,
        notice=f"{symbol} left the active US listings by {delisted} (delisted = {delisted} in finhub.toml, "
               f"set by `finhub discover`): history is kept, no live quotes are fetched; remove it from "
               f"[assets].stocks" if delisted else None,
    )
    return asset, key


def _day(value: object, key: str) -> date | None:
    """A TOML date, or ISO text of one."""
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    try:
        return date.fromisoformat(value) if isinstance(value, str) else _bad_day(value, key)
    except ValueError:
        return _bad_day(value, key)


def _bad_day(value: object, key: str) -> date:
    raise SettingsError(key, f"{value!r} is not a date such as 2025-07-18")


def _parse_crypto(entry: object, key: str) -> tuple[Asset, str]:
    fields = _fields(entry, key, required=("symbol", "coingecko_id"), optional=("yahoo", "alphavantage"))
    symbol = _checked(fields["symbol"], SYMBOL_PATTERN, f"{key}.symbol")
    # Yahoo and Alpha Vantage are used only when named: their crypto tickers are ambiguous too.
    asset = Asset(
        symbol, AssetType.CRYPTO,
        coingecko_id=_checked(fields["coingecko_id"], COINGECKO_ID_PATTERN, f"{key}.coingecko_id"),
        yahoo=_optional(fields.get("yahoo"), YAHOO_PATTERN, f"{key}.yahoo"),
        alphavantage=_optional(fields.get("alphavantage"), ALPHAVANTAGE_PATTERN, f"{key}.alphavantage"),
    )
    return asset, key


def _fields(entry: object, key: str, required: tuple[str, ...], optional: tuple[str, ...]) -> Mapping:
    if not isinstance(entry, dict):
        raise SettingsError(key, "must be a table such as {symbol = \"XYZ\"}")
    for name in entry:
        if name not in required + optional:
            raise SettingsError(f"{key}.{name}", f"unknown key (allowed: {', '.join(required + optional)})")
    for name in required:
        if name not in entry:
            hint = " (an explicit CoinGecko id: coins share symbols)" if name == "coingecko_id" else ""
            raise SettingsError(f"{key}.{name}", f"is required{hint}")
    return entry


def _checked(value: object, pattern: re.Pattern, key: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise SettingsError(key, f"{value!r} does not match {pattern.pattern}")
    return value


def _optional(value: object, pattern: re.Pattern, key: str) -> str | None:
    return None if value is None else _checked(value, pattern, key)


def _check_unique(assets: list[Asset], attribute: str) -> None:
    seen: dict[str, str] = {}
    for asset in assets:
        value = getattr(asset, attribute)
        if value in seen:
            raise SettingsError("assets", f"{seen[value]} and {asset.symbol} share {attribute} {value!r}")
        seen[value] = asset.symbol


