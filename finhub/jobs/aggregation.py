"""Market aggregation: daily levels and next-day pivot points from the stored prices, into their table.

Per asset and trading day: open, high, low and close of the prices stored that day, and for the
next day the classic floor-trader pivots from the previous day's high (H), low (L) and close (C)::

    PP = (H + L + C) / 3      R1 = 2·PP − L      R2 = PP + (H − L)
                              S1 = 2·PP − H      S2 = PP − (H − L)

Stock days are exchange sessions in New York time; crypto days are UTC calendar days.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pandas as pd
from sqlalchemy import Engine

from finhub.calendar import session_close
from finhub.model import EXCHANGE_TZ, Asset, AssetType, day_start
from finhub.storage import levels_stored, prices_since, upsert_levels

#: The scheduled aggregation recomputes this many days back (later days change as prices arrive).
RECENT = timedelta(days=3)


@dataclass(frozen=True)
class Pivots:
    pp: float
    r1: float
    r2: float
    s1: float
    s2: float


def pivots(high, low, close) -> Pivots:
    """Floor-trader pivots for the next day from one day's high, low and close (floats or Series)."""
    pp = (high + low + close) / 3
    return Pivots(pp=pp, r1=2 * pp - low, r2=pp + (high - low), s1=2 * pp - high, s2=pp - (high - low))


def trading_day(timestamps: pd.Series, asset_type: AssetType) -> pd.Series:
    """The trading day (a date) each aware UTC timestamp belongs to."""
    tz = EXCHANGE_TZ.key if asset_type == AssetType.STOCK else "UTC"
    return pd.to_datetime(timestamps, utc=True).dt.tz_convert(tz).dt.date


def daily_levels(prices: pd.DataFrame, asset_type: AssetType) -> pd.DataFrame:
    """OHLC per day from ``prices`` (columns timestamp, price, and optional interval, open/high/low).

    Only real OHLC and quotes make levels: rows carrying their own open/high/low (bars) contribute
    them, quotes contribute their price; a bar without a high and a low (CoinGecko's history serves
    close-only points) is left out, so a day backed only by such points gets no levels rather than
    flat ones (open = high = low = close) and meaningless pivots.
    Returns one row per day, indexed by date, with open, high, low, close and the pivots for the
    *next* day (pp, r1, r2, s1, s2), computed from that day.
    """
    if "interval" in prices:
        prices = prices[(prices["interval"] == "quote") | (prices["high"].notna() & prices["low"].notna())]
    if prices.empty:
        return pd.DataFrame(columns=["open", "high", "low", "close", "pp", "r1", "r2", "s1", "s2"])
    frame = prices.sort_values("timestamp").assign(day=trading_day(prices["timestamp"], asset_type))
    for column in ("open", "high", "low"):
        if column not in frame:
            frame[column] = float("nan")
        frame[column] = frame[column].fillna(frame["price"])
    days = frame.groupby("day").agg(open=("open", "first"), high=("high", "max"),
                                    low=("low", "min"), close=("price", "last"))
    days["high"] = days[["high", "open", "close"]].max(axis=1)
    days["low"] = days[["low", "open", "close"]].min(axis=1)
    levels = pivots(days["high"], days["low"], days["close"])
    return days.assign(pp=levels.pp, r1=levels.r1, r2=levels.r2, s1=levels.s1, s2=levels.s2)


def pivots_for(levels: pd.DataFrame, day: date) -> Pivots | None:
    """The pivots that apply on ``day``: those of the last day before it with levels."""
    before = levels[levels.index < day]
    if before.empty:
        return None
    row = before.iloc[-1]
    return Pivots(pp=row.pp, r1=row.r1, r2=row.r2, s1=row.s1, s2=row.s2)


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
    return (now or datetime.now(UTC)) - RECENT if levels_stored(engine) else None
