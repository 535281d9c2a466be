"""Crypto rankings: CoinGecko's top coins by market cap and its trending list, as snapshots."""

from __future__ import annotations

from datetime import datetime

from finhub.planner.capacity import TOP_CRYPTOS
from finhub.planner.quota import Purpose, Reservation
from finhub.runtime.context import Context
from finhub.storage import store_snapshot
from providers.base import BudgetRefused, RetryLater, Unavailable

#: The scheduled job that takes each kind of snapshot, as its runs are recorded (``status``, the web page).
JOBS = {"top": "top_cryptos", "trending": "trending"}


def snapshot_rankings(ctx: Context, kind: str, snapshot_at: datetime) -> int | Reservation:
    """Store CoinGecko's top cryptos (``kind="top"``) or trending list as of ``snapshot_at``.

    Returns the coins stored, or the refused reservation when the budget has no room now.
    """
    provider = ctx.providers.get("coingecko")
    if provider is None or not ctx.breakers.allow("coingecko"):
        raise Unavailable("coingecko", "breaker open")
    try:
        with ctx.quotas.metered("coingecko", Purpose.QUOTES):
            coins = provider.top_cryptos(TOP_CRYPTOS) if kind == "top" else provider.trending()
    except BudgetRefused as exc:
        return Reservation(False, exc.retry_after or 0.0, exc.window)
    except RetryLater as exc:
        ctx.breakers.record_failure("coingecko", str(exc))
        raise
    ctx.breakers.record_success("coingecko")
    return store_snapshot(ctx.engine, kind, snapshot_at, coins)
