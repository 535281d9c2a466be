"""Market aggregation: daily levels and next-day pivots from the stored prices, into their table."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

import pandas as pd
from sqlalchemy import Engine

from finhub.levels import daily_levels, trading_day
from finhub.market_hours import session_close
from finhub.storage import levels_stored, prices_since, upsert_levels
from finhub.universe import Asset, AssetType
from providers.base import day_start

#: The scheduled aggregation recomputes this many days back (later days change as prices arrive).
RECENT = timedelta(days=3)


def aggregate(engine: Engine, assets: Iterable[Asset], since: datetime | None) -> int:
    """Recompute and upsert the daily levels of ``assets`` for every trading day from the one
    ``since`` falls in (all stored days when None); returns the rows written.

    Stock days are NYSE sessions in New York time (a price stamped on a day without a session is
    not a trading day); crypto days are UTC calendar days.
    """
    written = 0
    for asset in assets:
        start = None
        if since is not None:
            first_day = trading_day(pd.Series([since]), asset.asset_type).iloc[0]
            start = day_start(first_day, asset.asset_type)
        levels = daily_levels(prices_since(engine, asset.symbol, start), asset.asset_type)
        if asset.asset_type == AssetType.STOCK and not levels.empty:
            levels = levels[[session_close(day) is not None for day in levels.index]]
        written += upsert_levels(engine, asset.symbol, str(asset.asset_type), levels)
    return written


def scheduled_since(engine: Engine, now: datetime | None = None) -> datetime | None:
    """Where the scheduled run starts: the last few days, or everything on the first run."""
    return (now or datetime.now(timezone.utc)) - RECENT if levels_stored(engine) else None
