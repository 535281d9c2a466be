"""Deterministic prices: the same asset and minute always give the same price, and the providers
agree within a small spread. Assets are keyed by our canonical symbol (BTC, AAPL).

Each asset moves around its recorded level (:mod:`finhub.sandbox.levels`) by smooth value noise on
several scales (a month, a week, a day, an hour): hashed knots interpolated between, summed, so
the path never repeats (no weekly or daily period) and stays within about ±20 % of the level."""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta
from functools import lru_cache

#: Each provider's fixed offset from the common price (fractions): well inside validation tolerance.
PROVIDER_SPREAD = {"yahoo": 0.0, "coingecko": 0.0015, "alphavantage": -0.0015}
WEEK = 7 * 86400.0


def _unit(key: str) -> float:
    """A stable number in [0, 1) for ``key``."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") / 2**64


def base_price(symbol: str) -> float:
    """The asset's typical price: its recorded level, else from its symbol's hash (stocks 10-1,000,
    coins 0.1-100)."""
    from finhub.sandbox.levels import STOCK_SYMBOLS, recorded_levels

    level = recorded_levels().get(symbol)
    if level is not None:
        return level
    if symbol in STOCK_SYMBOLS:
        return round(10 ** (1 + 2 * _unit(symbol)), 2)
    return round(10 ** (-1 + 3 * _unit(symbol)), 4)


#: (period in seconds, amplitude as a fraction of the level) of the value-noise octaves.
OCTAVES = ((30 * 86400.0, 0.10), (WEEK, 0.05), (86400.0, 0.02), (3600.0, 0.004))


def _noise(symbol: str, t: float, period: float) -> float:
    """Smooth noise in [-1, 1]: hashed values at multiples of ``period``, cosine-interpolated."""
    k = math.floor(t / period)
    f = t / period - k
    a, b = (2 * _unit(f"{symbol}/{period:g}/{k + i}") - 1 for i in (0, 1))
    w = (1 - math.cos(math.pi * f)) / 2
    return a + (b - a) * w


def _round(value: float) -> float:
    if value >= 1:
        return round(value, 4)
    return float(f"{value:.6g}") if value > 0 else value


def price(symbol: str, moment: datetime, provider: str = "yahoo", skew_pct: float = 0.0) -> float:
    """The asset's price at ``moment`` (minute resolution) as ``provider`` reports it."""
    return _price(symbol, moment.timestamp() // 60 * 60, provider, skew_pct)


@lru_cache(maxsize=1 << 18)
def _price(symbol: str, t: float, provider: str, skew_pct: float) -> float:
    # Cached: a 1m bar asks for its one minute five times, and 7 days of them are 10,080 bars.
    wave = 1 + sum(amplitude * _noise(symbol, t, period) for period, amplitude in OCTAVES)
    value = base_price(symbol) * wave * (1 + PROVIDER_SPREAD.get(provider, 0.0)) * (1 + skew_pct / 100)
    return _round(value)


def volume(symbol: str, moment: datetime) -> float:
    return float(int(1e5 + 1e7 * _unit(f"{symbol}/{moment.timestamp() // 86400}")))


def market_cap(symbol: str, moment: datetime, provider: str = "yahoo") -> float:
    """Price times the recorded circulating supply (coins of the recorded lists), else a hashed share count."""
    from finhub.sandbox.levels import coin_by_symbol

    coin = coin_by_symbol().get(symbol)
    shares = coin.supply if coin is not None else 1e8 + 1e10 * _unit(symbol + "/shares")
    return round(price(symbol, moment, provider) * shares, 0)


def bar(symbol: str, start: datetime, length: timedelta, provider: str = "yahoo", skew_pct: float = 0.0):
    """(open, high, low, close, volume) of the bar starting at ``start``."""
    end = start + length - timedelta(minutes=1)
    points = [price(symbol, start + length * f, provider, skew_pct) for f in (0, 0.25, 0.5, 0.75)]
    close = price(symbol, end, provider, skew_pct)
    return points[0], max(points + [close]) * 1.002, min(points + [close]) * 0.998, close, volume(symbol, start)


def floor_minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)
