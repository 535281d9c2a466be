"""The shared vocabulary: assets, observations, intervals and the exchange's time zone.

Every layer speaks these types; this module imports nothing of finhub's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

#: Where a stock's trading day begins: daily bars of every provider are stamped at this midnight,
#: and market-open/close jobs fire on its clock.
EXCHANGE_TZ = ZoneInfo("America/New_York")
#: A market time further ahead of our clock than this is treated as bad data.
MAX_CLOCK_SKEW = timedelta(minutes=5)

#: The interval live quotes are stored with.
QUOTE = "quote"
#: Bar intervals history can collect, and the length of each bar.
BAR_PERIOD = {"1m": timedelta(minutes=1), "2m": timedelta(minutes=2), "5m": timedelta(minutes=5),
              "15m": timedelta(minutes=15), "30m": timedelta(minutes=30), "1h": timedelta(hours=1),
              "90m": timedelta(minutes=90), "1d": timedelta(days=1), "1wk": timedelta(weeks=1)}
BAR_INTERVALS = tuple(BAR_PERIOD)
#: Bars shorter than a day: a stock has them inside NYSE sessions only, each session's first at its open.
INTRADAY = tuple(i for i, period in BAR_PERIOD.items() if period < timedelta(days=1))
#: Every interval a stored price can have.
INTERVALS = (QUOTE, *BAR_INTERVALS)


class AssetType(StrEnum):
    STOCK = "stock"
    CRYPTO = "crypto"


@dataclass(frozen=True)
class Asset:
    """One collected asset and its name at each provider (``None``: that provider is not used)."""

    symbol: str
    asset_type: AssetType
    yahoo: str | None = None
    alphavantage: str | None = None
    coingecko_id: str | None = None
    delisted: date | None = None
    notice: str | None = None

    @property
    def active(self) -> bool:
        """Whether live quotes are still collected (a delisted stock keeps its history only)."""
        return self.delisted is None


@dataclass(frozen=True, slots=True)
class Observation:
    """One price of one asset from one provider at the provider's market time (UTC)."""

    symbol: str
    asset_type: AssetType
    price: float
    timestamp: datetime
    provider: str
    fetched_at: datetime
    interval: str = QUOTE
    open: float | None = None
    high: float | None = None
    low: float | None = None
    volume: float | None = None
    market_cap: float | None = None


@dataclass(frozen=True, slots=True)
class RankedCoin:
    """One coin of a market-cap ranking or trending list."""

    rank: int
    coingecko_id: str
    symbol: str
    name: str
    price: float | None
    market_cap: float | None
    volume_24h: float | None
    timestamp: datetime


@dataclass(frozen=True)
class Listing:
    """One US listing as Alpha Vantage's LISTING_STATUS names it: ``asset_type`` is Stock or ETF."""

    symbol: str
    name: str
    exchange: str
    asset_type: str
    ipo_date: date | None
    status: str


def day_start(day: date, asset_type: AssetType) -> datetime:
    """The market time of a daily bar: 00:00 of its trading day in New York (stocks) or UTC (crypto),
    as Yahoo stamps them, so the same day from two providers is the same stored row."""
    zone = EXCHANGE_TZ if asset_type == AssetType.STOCK else UTC
    return datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)
