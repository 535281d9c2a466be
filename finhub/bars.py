"""Which bars a (symbol, interval) should have in a range, and which ones its providers answered without.

Stock bars follow NYSE's sessions, read from the session arrays of :mod:`finhub.market_hours` by
bisection (exchange-calendars' minute index costs ~32 MB a process); crypto bars lie on a UTC grid.
A provider may legitimately lack a bar (a halted stock, a crypto day with no data). After every
answered fetch the bars that were final and still missing are kept in Redis as *absent*: the
planner counts them as served, so a range that stays short is not fetched again on every run.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta

from finhub.market_hours import sessions
from finhub.universe import Asset, AssetType
from providers.base import EXCHANGE_TZ, day_start

PERIOD = {"1h": timedelta(hours=1), "1d": timedelta(days=1), "1wk": timedelta(weeks=1)}
#: Bars a provider answered without, per (symbol, interval): a sorted set of bar starts (POSIX seconds).
ABSENT_KEY = "finhub:history:absent:{symbol}:{interval}"
_MONDAY = 4 * 86400  # 1970-01-05, the first Monday of POSIX time: origin of the weekly grid


def bar_starts(asset: Asset, interval: str, start: datetime, end: datetime) -> list[float]:
    """Market times (POSIX seconds, ascending) of the bars ``asset`` has in [start, end) when none is missing."""
    lo, hi = start.timestamp(), end.timestamp()
    if asset.asset_type == AssetType.CRYPTO:
        step = PERIOD[interval].total_seconds()
        origin = _MONDAY if interval == "1wk" else 0
        first = origin + math.ceil((lo - origin) / step) * step
        return [first + k * step for k in range(max(0, math.ceil((hi - first) / step)))]
    if interval == "1wk":
        return _mondays(lo, hi)
    if interval == "1d":  # a session's bar starts at the midnight before its open
        days = (day_start(datetime.fromtimestamp(o, EXCHANGE_TZ).date(), AssetType.STOCK).timestamp()
                for o, _ in _stock_sessions(lo, hi + 86400))
        return [t for t in days if lo <= t < hi]
    return [t for o, c in _stock_sessions(lo, hi) for t in range(int(o), int(c), 3600) if lo <= t < hi]


def _mondays(lo: float, hi: float) -> list[float]:
    """Midnights (New York) of the Mondays in [lo, hi): a stock's weekly bars."""
    day = datetime.fromtimestamp(lo, EXCHANGE_TZ).date()
    day += timedelta(days=-day.weekday() % 7)
    starts = []
    while (t := day_start(day, AssetType.STOCK).timestamp()) < hi:
        if t >= lo:
            starts.append(t)
        day += timedelta(weeks=1)
    return starts


def _stock_sessions(lo: float, hi: float) -> list[tuple[float, float]]:
    """(open, close) of the NYSE sessions overlapping [lo, hi). Before the calendar's first session
    (about 20 years back) every weekday counts, 9:30 to 16:00, as finhub.market_hours assumes."""
    opens, closes = sessions()
    early = []
    day = datetime.fromtimestamp(lo, EXCHANGE_TZ).date()
    while (begin := _at(day, time(9, 30))) < min(hi, opens[0]):
        if day.weekday() < 5 and _at(day, time(16)) > lo:
            early.append((begin, _at(day, time(16))))
        day += timedelta(days=1)
    i, j = bisect.bisect_right(closes, lo), bisect.bisect_left(opens, hi)
    return early + list(zip(opens[i:j], closes[i:j]))


def _at(day: date, clock: time) -> float:
    return datetime.combine(day, clock, EXCHANGE_TZ).timestamp()


def missing(expected: Sequence[float], stored: Iterable[float]) -> list[float]:
    """The bars of ``expected`` (ascending bar starts) with no stored market time in their period. A
    stored time counts for the latest expected bar at or before it: CoinGecko's bars carry the time
    of their first point, not the period's start."""
    have = {bisect.bisect_right(expected, t) - 1 for t in stored}
    return [t for i, t in enumerate(expected) if i not in have]


def record_absent(redis, symbol: str, interval: str, start: datetime, end: datetime, absent: Sequence[float],
                  keep_from: datetime) -> None:
    """Replace what is known absent of (symbol, interval) in [start, end) by ``absent`` (a fetch of that
    range was just answered), and forget bars before ``keep_from`` (retention deletes them anyway)."""
    key = ABSENT_KEY.format(symbol=symbol, interval=interval)
    with redis.pipeline() as pipe:
        pipe.zremrangebyscore(key, start.timestamp(), f"({end.timestamp()}")
        pipe.zremrangebyscore(key, "-inf", f"({keep_from.timestamp()}")
        if absent:
            pipe.zadd(key, {str(int(t)): t for t in absent})
        pipe.execute()


def absent_bars(redis, symbol: str, interval: str, start: datetime, end: datetime) -> list[float]:
    """Bar starts in [start, end) that a fetch of (symbol, interval) was answered without (ascending)."""
    key = ABSENT_KEY.format(symbol=symbol, interval=interval)
    return [score for _, score in redis.zrangebyscore(key, start.timestamp(), f"({end.timestamp()}",
                                                      withscores=True)]
