"""When the stock market is open, from the NYSE calendar of exchange-calendars (holidays, early
closes and all), whether a stock refresh is worth a provider call now, and the bar grid: which
bars a (symbol, interval) should have in a range (stock bars follow NYSE sessions, crypto bars lie
on a UTC grid).

The calendar's sessions are turned into two sorted lists of POSIX seconds once per process, and
every question is a bisection of them: exchange-calendars' own minute lookups build an index of
every trading minute of 20 years (~32 MB a process), and take ~0.1 ms a call. exchange-calendars
and pandas are imported on first use, so the driver and the crypto path never pay for them.
"""

from __future__ import annotations

import bisect
import math
import threading
import warnings
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import TYPE_CHECKING

from finhub.model import BAR_PERIOD, EXCHANGE_TZ, Asset, AssetType, day_start

if TYPE_CHECKING:
    import exchange_calendars as xcals

#: The exchange whose sessions decide stock polling (ISO 10383 code).
EXCHANGE = "XNYS"
#: A quote whose market time is this close to the session close counts as the closing price
#: (providers stamp it a little before or after the bell).
CLOSE_TOLERANCE = timedelta(minutes=2)

_calendar_lock = threading.Lock()


def calendar() -> xcals.ExchangeCalendar:
    """The NYSE calendar, loaded once per process (~0.2 s, ~1 s under load): worker threads wait
    for the first one to build it rather than each building their own."""
    with _calendar_lock:
        return _calendar()


@cache
def _calendar() -> xcals.ExchangeCalendar:
    import exchange_calendars

    # exchange-calendars 4.13 trips pandas 3.1's deprecation of tz-dropping ``.values``; harmless here.
    warnings.filterwarnings("ignore", message=r".*values returning an ndarray that drops timezone")
    return exchange_calendars.get_calendar(EXCHANGE)


def sessions() -> tuple[list[float], list[float]]:
    """NYSE session opens and closes (POSIX seconds, ascending), 20 years back to a year ahead."""
    with _calendar_lock:
        return _sessions()


@cache
def _sessions() -> tuple[list[float], list[float]]:
    cal = _calendar()
    return [t.timestamp() for t in cal.opens], [t.timestamp() for t in cal.closes]


def session_close(day: date) -> datetime | None:
    """When NYSE's session on ``day`` closed (early closes too), or None when it did not trade.
    Outside the calendar's range (about 20 years back) every weekday counts as a session closing
    at 16:00 New York time: bars from before it must not break history or aggregation."""
    import pandas as pd

    cal = calendar()
    session = pd.Timestamp(day)
    if cal.first_session <= session <= cal.last_session:
        return cal.session_close(session).to_pydatetime() if cal.is_session(session) else None
    if day.weekday() >= 5:
        return None
    return datetime.combine(day, time(16), EXCHANGE_TZ).astimezone(UTC)


def _minute(now: datetime) -> float:
    if now.tzinfo is None:
        raise ValueError("market hours need an aware datetime")
    return now.replace(second=0, microsecond=0).timestamp()


def is_open(now: datetime) -> bool:
    """Whether NYSE is trading at ``now`` (from the opening minute up to, not including, the close)."""
    return session_open(now) is not None


def session_open(now: datetime) -> datetime | None:
    """When the session trading at ``now`` opened, or None while NYSE is closed."""
    minute = _minute(now)
    opens, closes = sessions()
    i = bisect.bisect_right(opens, minute) - 1
    return datetime.fromtimestamp(opens[i], UTC) if i >= 0 and minute < closes[i] else None


def last_close(now: datetime) -> datetime:
    """The most recent session close at or before ``now`` (UTC)."""
    _, closes = sessions()
    i = bisect.bisect_right(closes, _minute(now)) - 1
    if i < 0:
        raise ValueError(f"{now} is before the first session of the {EXCHANGE} calendar")
    return datetime.fromtimestamp(closes[i], UTC)


def stock_quotes_due(now: datetime, last_quote: datetime | None) -> bool:
    """Whether stock quotes are worth fetching at ``now``.

    While the market is open, always. While it is closed, only when the last stored quote is older
    than the latest close: that captures the close once just after it, and a first start on a
    Sunday stores Friday's close; after that no calls until the next open.
    """
    return is_open(now) or last_quote is None or last_quote < last_close(now) - CLOSE_TOLERANCE


#: How long after the bell the market-open and market-close jobs still count as "at" it.
BELL_WINDOW = timedelta(minutes=10)


def just_opened(now: datetime) -> bool:
    """Whether NYSE opened a session within the last :data:`BELL_WINDOW` (holidays: never)."""
    minute = _minute(now)
    opens, closes = sessions()
    i = bisect.bisect_right(opens, minute) - 1
    return i >= 0 and minute < closes[i] and minute - opens[i] < BELL_WINDOW.total_seconds()


def just_closed(now: datetime) -> bool:
    """Whether a session (early closes included) closed within the last :data:`BELL_WINDOW`."""
    return timedelta(0) <= now - last_close(now) < BELL_WINDOW


def intraday_due(now: datetime, every: timedelta) -> bool:
    """Whether stock intraday bars are worth a refresh at ``now`` by a job running every ``every``:
    while NYSE is open, and once more within ``every`` after a close (its last bars become final)."""
    return is_open(now) or now - last_close(now) <= every


# --- the bar grid ---------------------------------------------------------------------------------

_MONDAY = 4 * 86400  # 1970-01-05, the first Monday of POSIX time: origin of the weekly grid


#: Extended hours around a session: pre-market from 4:00 New York (5.5 h before the 9:30 open),
#: post-market until 20:00 (4 h after a 16:00 close; 17:00 after a 13:00 early close).
PRE_MARKET, POST_MARKET = 5.5 * 3600, 4 * 3600


def bar_starts(asset: Asset, interval: str, start: datetime, end: datetime, prepost: bool = False) -> list[float]:
    """Market times (POSIX seconds, ascending) of the bars ``asset`` has in [start, end) when none is
    missing; ``prepost``: a stock's intraday bars of the pre- and post-market hours too."""
    lo, hi = start.timestamp(), end.timestamp()
    if asset.asset_type == AssetType.CRYPTO:
        step = BAR_PERIOD[interval].total_seconds()
        origin = _MONDAY if interval == "1wk" else 0
        first = origin + math.ceil((lo - origin) / step) * step
        return [first + k * step for k in range(max(0, math.ceil((hi - first) / step)))]
    if interval == "1wk":
        return _mondays(lo, hi)
    if interval == "1d":  # a session's bar starts at the midnight before its open
        days = (day_start(datetime.fromtimestamp(o, EXCHANGE_TZ).date(), AssetType.STOCK).timestamp()
                for o, _ in _stock_sessions(lo, hi + 86400))
        return [t for t in days if lo <= t < hi]
    # Intraday: from each session's open, every period up to its close (a 13:00 early close ends the
    # session sooner; a 90m grid's last bar of a full session is 15:30-16:00, as Yahoo's).
    step = int(BAR_PERIOD[interval].total_seconds())
    before, after = (PRE_MARKET, POST_MARKET) if prepost else (0, 0)
    sessions = _stock_sessions(lo - after, hi + before)
    return [t for o, c in sessions for t in range(int(o - before), int(c + after), step) if lo <= t < hi]


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
    (about 20 years back) every weekday counts, 9:30 to 16:00, as session_close assumes."""
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
