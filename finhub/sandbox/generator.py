"""Deterministic prices: the same asset and minute always give the same price, and the providers
agree within a small spread. Assets are keyed by our canonical symbol (BTC, AAPL)."""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta

#: Each provider's fixed offset from the common price (fractions): well inside validation tolerance.
PROVIDER_SPREAD = {"yahoo": 0.0, "coingecko": 0.0015, "alphavantage": -0.0015}
WEEK = 7 * 86400.0


def _unit(key: str) -> float:
    """A stable number in [0, 1) for ``key``."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") / 2**64


def base_price(symbol: str) -> float:
    """The asset's typical price: between 1 and 10,000 depending on the symbol."""
    return round(10 ** (4 * _unit(symbol)), 2) or 1.0


def price(symbol: str, moment: datetime, provider: str = "yahoo", skew_pct: float = 0.0) -> float:
    """The asset's price at ``moment`` (minute resolution) as ``provider`` reports it."""
    t = moment.timestamp() // 60 * 60
    phase = 2 * math.pi * _unit(symbol + "/phase")
    wave = 1 + 0.05 * math.sin(2 * math.pi * t / WEEK + phase) + 0.01 * math.sin(2 * math.pi * t / 86400 + phase)
    value = base_price(symbol) * wave * (1 + PROVIDER_SPREAD.get(provider, 0.0)) * (1 + skew_pct / 100)
    return round(value, 6 if value < 1 else 4)


def volume(symbol: str, moment: datetime) -> float:
    return float(int(1e5 + 1e7 * _unit(f"{symbol}/{moment.timestamp() // 86400}")))


def market_cap(symbol: str, moment: datetime, provider: str = "yahoo") -> float:
    return round(price(symbol, moment, provider) * (1e8 + 1e10 * _unit(symbol + "/shares")), 0)


def bar(symbol: str, start: datetime, length: timedelta, provider: str = "yahoo", skew_pct: float = 0.0):
    """(open, high, low, close, volume) of the bar starting at ``start``."""
    end = start + length - timedelta(minutes=1)
    points = [price(symbol, start + length * f, provider, skew_pct) for f in (0, 0.25, 0.5, 0.75)]
    close = price(symbol, end, provider, skew_pct)
    return points[0], max(points + [close]) * 1.002, min(points + [close]) * 0.998, close, volume(symbol, start)


def floor_minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)
