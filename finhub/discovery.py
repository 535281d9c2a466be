"""Discovering what to collect: candidates by category from a provider's lists, checked like
configured assets.

Pure: the lists come in (CoinGecko's ``coins/markets`` as :class:`RankedCoin`, Alpha Vantage's
LISTING_STATUS as :class:`Listing`), candidates come out, each with the ``[assets]`` entry that
would add it. Every symbol must match finhub's strict :data:`SYMBOL_PATTERN`; a crypto always
carries its explicit CoinGecko id, and a ticker already taken (by a collected asset or a larger
coin) is skipped rather than guessed, since many coins share one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from finhub.model import Asset, AssetType, Listing, RankedCoin
from finhub.universe import SYMBOL_PATTERN, Universe

CATEGORIES = ("crypto", "us_equities", "etf")
#: LISTING_STATUS's assetType of each listing category.
LISTING_TYPES = {"us_equities": "Stock", "etf": "ETF"}
#: LISTING_STATUS's exchanges (what ``--exchange`` may name).
EXCHANGES = ("NYSE", "NASDAQ", "NYSE ARCA", "NYSE MKT", "BATS")
#: Fewer active listings than this in an answer is a truncated answer, not thousands of delistings.
MIN_LISTINGS_TO_JUDGE = 1000

#: Yahoo's tickers of coins beyond the default universe where they are known to be ``SYMBOL-USD``
#: for this very coin (Yahoo numbers the ambiguous ones, like UNI7083-USD); others get none.
KNOWN_YAHOO = {
    "tether": "USDT-USD", "usd-coin": "USDC-USD", "tron": "TRX-USD", "shiba-inu": "SHIB-USD",
    "bitcoin-cash": "BCH-USD", "dai": "DAI-USD", "wrapped-bitcoin": "WBTC-USD", "internet-computer": "ICP-USD",
    "hedera-hashgraph": "HBAR-USD", "cronos": "CRO-USD", "okb": "OKB-USD", "leo-token": "LEO-USD",
}
#: Stablecoins among the largest coins (CoinGecko ids), besides any coin whose name says so.
STABLECOINS = frozenset({
    "tether", "usd-coin", "dai", "binance-usd", "true-usd", "paxos-standard", "first-digital-usd", "paypal-usd",
    "ethena-usde", "usdd", "frax", "gemini-dollar", "liquity-usd", "stasis-eurs", "euro-coin", "pax-gold",
    "tether-gold", "neutrino", "terrausd", "husd", "fei-usd", "usds", "susds", "usual-usd", "ripple-usd",
})
#: Words in a coin's id or name that make it a claim on another coin, not a coin of its own.
WRAPPED_WORDS = ("wrapped", "bridged", "staked", "wormhole", "liquid-staking")


@dataclass(frozen=True)
class Candidate:
    """One asset a category offers; ``collected`` when the universe has it already."""

    symbol: str
    name: str
    kind: str                      # stock, etf or crypto
    rank: int | None = None
    exchange: str | None = None
    coingecko_id: str | None = None
    yahoo: str | None = None
    market_cap: float | None = None
    volume: float | None = None
    collected: bool = False

    @property
    def asset_type(self) -> AssetType:
        return AssetType.CRYPTO if self.kind == "crypto" else AssetType.STOCK

    def entry(self) -> dict[str, str]:
        """Its ``[assets]`` entry in finhub.toml (``stocks`` or ``cryptos``, by :attr:`asset_type`)."""
        if self.kind != "crypto":
            return {"symbol": self.symbol}
        entry = {"symbol": self.symbol, "coingecko_id": str(self.coingecko_id)}
        if self.yahoo:
            entry["yahoo"] = self.yahoo
        return entry


@dataclass
class Discovery:
    """What a category offered: ``candidates`` in order, ``skipped`` (symbol, why), and configured
    stocks the listings no longer hold (``vanished``)."""

    category: str
    candidates: list[Candidate] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)

    @property
    def new(self) -> list[Candidate]:
        return [c for c in self.candidates if not c.collected]


def stable_or_wrapped(coin: RankedCoin) -> str | None:
    """Why ``coin`` is not a coin of its own (a stablecoin or a wrapped/staked token), or None."""
    words = f"{coin.coingecko_id} {coin.name}".lower()
    if coin.coingecko_id in STABLECOINS or "stablecoin" in words or coin.symbol.upper() in ("USDT", "USDC", "DAI"):
        return "stablecoin"
    if any(w in words for w in WRAPPED_WORDS) or any(w.replace("-", " ") in words for w in WRAPPED_WORDS):
        return "wrapped or staked token"
    return None


def from_coins(coins: Iterable[RankedCoin], universe: Universe, limit: int, min_market_cap: float | None = None,
               exclude_stable: bool = False) -> Discovery:
    """The ``limit`` largest coins by market cap that pass the filters, each with its CoinGecko id."""
    found = Discovery("crypto")
    collected_ids = {a.coingecko_id: a.symbol for a in universe if a.coingecko_id}
    taken = {a.symbol: a for a in universe}
    chosen: dict[str, str] = {}
    for coin in sorted(coins, key=lambda c: c.rank):
        if len(found.candidates) >= limit:
            break
        symbol, coin_id = coin.symbol.upper(), coin.coingecko_id
        if min_market_cap is not None and (coin.market_cap or 0) < min_market_cap:
            continue
        reason = stable_or_wrapped(coin) if exclude_stable else None
        if reason:
            found.skipped.append((f"{symbol} ({coin_id})", reason))
            continue
        if coin_id in collected_ids:
            found.candidates.append(_coin(coin, collected_ids[coin_id], collected=True))
            continue
        if not SYMBOL_PATTERN.fullmatch(symbol):
            found.skipped.append((f"{symbol} ({coin_id})", "not a valid finhub symbol"))
            continue
        holder = chosen.get(symbol) or _holder(taken.get(symbol))
        if holder:
            found.skipped.append((f"{symbol} ({coin_id})", f"ticker {symbol} is already {holder}"))
            continue
        chosen[symbol] = coin_id
        found.candidates.append(_coin(coin, symbol))
    return found


def _holder(asset: Asset | None) -> str | None:
    """Who holds a ticker in the universe: its coin's id, or the stock."""
    if asset is None:
        return None
    return asset.coingecko_id or f"the stock {asset.symbol}"


def _coin(coin: RankedCoin, symbol: str, collected: bool = False) -> Candidate:
    return Candidate(symbol, coin.name, "crypto", rank=coin.rank, coingecko_id=coin.coingecko_id,
                     yahoo=KNOWN_YAHOO.get(coin.coingecko_id), market_cap=coin.market_cap, volume=coin.volume_24h,
                     collected=collected)


def from_listings(listings: Sequence[Listing], category: str, universe: Universe, limit: int,
                  exchanges: Sequence[str] | None = None) -> Discovery:
    """The first ``limit`` active listings of ``category`` on ``exchanges``, alphabetically (LISTING_STATUS
    ranks nothing), and the configured stocks it no longer lists."""
    found = Discovery(category)
    wanted_type, wanted_exchanges = LISTING_TYPES[category], set(exchanges or EXCHANGES)
    active = [x for x in listings if x.status.lower() == "active"]
    for listing in sorted(active, key=lambda x: x.symbol):
        if len(found.candidates) >= limit:
            break
        if listing.asset_type != wanted_type or listing.exchange not in wanted_exchanges:
            continue
        if not SYMBOL_PATTERN.fullmatch(listing.symbol):
            found.skipped.append((listing.symbol, "not a valid finhub symbol"))
            continue
        held = listing.symbol in universe and universe[listing.symbol].asset_type == AssetType.STOCK
        if listing.symbol in universe and not held:
            found.skipped.append((listing.symbol, f"ticker {listing.symbol} is already a crypto"))
            continue
        found.candidates.append(Candidate(listing.symbol, listing.name, "etf" if category == "etf" else "stock",
                                          exchange=listing.exchange, collected=held))
    if len(active) >= MIN_LISTINGS_TO_JUDGE:
        listed = {x.symbol for x in active}
        found.vanished = [a.symbol for a in universe.of_type(AssetType.STOCK) if a.symbol not in listed]
    return found
