"""Which collected assets lack a recent quote: the warning ``status`` gives for an asset that died,
was renamed or that no provider serves any more, before anyone reads the logs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from finhub import market_hours
from finhub.settings import ScheduleSettings
from finhub.universe import Asset, AssetType

#: A quote is stale once this many scheduled refreshes have passed since its market time (stocks:
#: counted while NYSE trades; while it is closed a stock needs only the last close).
STALE_AFTER_RUNS = 3


def is_stale(asset: Asset, last_quote: datetime | None, schedule: ScheduleSettings, now: datetime) -> bool:
    """Whether ``asset``'s newest stored quote (its market time) is older than its schedule allows."""
    if last_quote is None:
        return True
    if asset.asset_type == AssetType.CRYPTO:
        return now - last_quote > timedelta(seconds=STALE_AFTER_RUNS * schedule.crypto_quotes)
    opened = market_hours.session_open(now)
    expected = now - timedelta(seconds=STALE_AFTER_RUNS * schedule.stock_quotes)
    if opened is None or expected < opened:  # closed, or just opened: the last close will do
        return market_hours.stock_quotes_due(market_hours.last_close(now), last_quote)
    return last_quote < expected


def stale_quotes(assets: Iterable[Asset], last_quotes: Mapping[str, datetime], schedule: ScheduleSettings,
                 now: datetime) -> list[tuple[Asset, datetime | None]]:
    """The active ``assets`` whose newest quote is stale, with its market time (None: never stored)."""
    return [(a, last_quotes.get(a.symbol)) for a in assets
            if a.active and is_stale(a, last_quotes.get(a.symbol), schedule, now)]
