"""When the stock market is open, from the NYSE calendar of exchange-calendars (holidays, early
closes and all), and whether a stock refresh is worth a provider call now.

The calendar's sessions are turned into two sorted lists of POSIX seconds once per process, and
every question is a bisection of them: exchange-calendars' own minute lookups build an index of
every trading minute of 20 years (~32 MB a process), and take ~0.1 ms a call. exchange-calendars
and pandas are imported on first use, so the driver and the crypto path never pay for them.
"""

from __future__ import annotations

import bisect
import threading
import warnings
from datetime import date, datetime, time, timedelta, timezone
from functools import cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

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
    return datetime.combine(day, time(16), ZoneInfo("America/New_York")).astimezone(timezone.utc)


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
    return datetime.fromtimestamp(opens[i], timezone.utc) if i >= 0 and minute < closes[i] else None


def last_close(now: datetime) -> datetime:
    """The most recent session close at or before ``now`` (UTC)."""
    _, closes = sessions()
    i = bisect.bisect_right(closes, _minute(now)) - 1
    if i < 0:
        raise ValueError(f"{now} is before the first session of the {EXCHANGE} calendar")
    return datetime.fromtimestamp(closes[i], timezone.utc)


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
