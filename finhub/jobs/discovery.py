"""Fetching a category's candidates: one CoinGecko ``coins/markets`` page per 250 coins, or one Alpha
Vantage LISTING_STATUS call, each counted against the provider's quota and breaker."""

from __future__ import annotations

import time

from finhub.discovery import Discovery, from_coins, from_listings
from finhub.planner.quota import Purpose
from finhub.runtime.context import Context
from providers.base import ProviderError, RetryLater, Unavailable

#: Coins per ``coins/markets`` page; discovery reads enough pages for filters to leave ``limit``.
MARKETS_PAGE = 250
MAX_COINS = 1000
#: Seconds discovery waits for room in the provider's budget before giving up (per-second windows).
MAX_WAIT = 5.0


class DiscoveryError(Exception):
    """The provider cannot answer now or at all; the message is the one line shown."""


def discover(ctx: Context, category: str, limit: int, exchanges: list[str] | None = None,
             min_market_cap: float | None = None, exclude_stable: bool = False) -> Discovery:
    """Ask the category's provider and turn its answer into candidates (see :mod:`finhub.discovery`)."""
    name = "coingecko" if category == "crypto" else "alphavantage"
    provider = ctx.providers.get(name)
    if provider is None:
        raise DiscoveryError(f"discover {category} needs Alpha Vantage: set FINHUB_ALPHAVANTAGE_API_KEY")
    # Filters drop coins (stablecoins, taken tickers): read twice the limit, in whole pages.
    coins = min(MAX_COINS, -(-2 * limit // MARKETS_PAGE) * MARKETS_PAGE)
    calls = coins // MARKETS_PAGE if category == "crypto" else 1
    if not ctx.breakers.allow(name):
        raise DiscoveryError(f"{name} unavailable: its breaker is open after repeated failures; try again later")
    reservation = ctx.quotas.reserve(name, Purpose.QUOTES, calls)
    waited = 0.0
    while not reservation and waited + reservation.retry_after <= MAX_WAIT:  # a short window: wait for it
        time.sleep(reservation.retry_after)
        waited += reservation.retry_after
        reservation = ctx.quotas.reserve(name, Purpose.QUOTES, calls)
    if not reservation:
        raise DiscoveryError(f"{name}'s {reservation.window} budget has no room now; retry in "
                             f"{reservation.retry_after:.0f} s")
    try:
        if category == "crypto":
            answer = provider.top_cryptos(coins)
        else:
            listings = provider.listings()  # type: ignore[attr-defined]  # Alpha Vantage's own call
    except ProviderError as exc:
        if isinstance(exc, RetryLater):
            ctx.breakers.record_failure(name, str(exc))
        what = "unreachable" if isinstance(exc, Unavailable) else "failed"
        raise DiscoveryError(f"{name} {what}: {exc.message}") from None
    ctx.breakers.record_success(name)
    if category == "crypto":
        return from_coins(answer, ctx.universe, limit, min_market_cap, exclude_stable)
    return from_listings(listings, category, ctx.universe, limit, exchanges)
