"""When the stock market is open, from the NYSE calendar of exchange-calendars (holidays, early
closes and all), and whether a stock refresh is worth a provider call now.

exchange-calendars and pandas are imported on first use: the driver and the crypto path never pay
for them (~0.8 s of start-up).
"""

from __future__ import annotations

import threading
import warnings
from datetime import datetime, timedelta, timezone
from functools import cache, lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import exchange_calendars as xcals

#: The exchange whose sessions decide stock polling (ISO 10383 code).
EXCHANGE = "XNYS"
#: A quote whose market time is this close to the session close counts as the closing price
#: (providers stamp it a little before or after the bell).
CLOSE_TOLERANCE = timedelta(minutes=2)
#: Minutes whose answers are remembered: a batch of quotes asks about the same minute many times.
MINUTES_CACHED = 256


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


def _minute(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("market hours need an aware datetime")
    return now.astimezone(timezone.utc).replace(second=0, microsecond=0)


def is_open(now: datetime) -> bool:
    """Whether NYSE is trading at ``now``."""
    return _open_on(_minute(now))


def last_close(now: datetime) -> datetime:
    """The most recent session close at or before ``now`` (UTC)."""
    return _last_close(_minute(now))


@lru_cache(maxsize=MINUTES_CACHED)
def _open_on(minute: datetime) -> bool:
    import pandas as pd

    return bool(calendar().is_open_on_minute(pd.Timestamp(minute)))


@lru_cache(maxsize=MINUTES_CACHED)
def _last_close(minute: datetime) -> datetime:
    import pandas as pd

    cal, stamp = calendar(), pd.Timestamp(minute)
    day = stamp.normalize().tz_localize(None)
    if not cal.is_open_on_minute(stamp) and cal.is_session(day):
        close = cal.session_close(day)
        if close <= stamp:
            return close.to_pydatetime()
    return cal.previous_close(stamp).to_pydatetime()


def stock_quotes_due(now: datetime, last_quote: datetime | None) -> bool:
    """Whether stock quotes are worth fetching at ``now``.

    While the market is open, always. While it is closed, only when the last stored quote is older
    than the latest close: that captures the close once just after it, and a first start on a
    Sunday stores Friday's close; after that no calls until the next open.
    """
    return is_open(now) or last_quote is None or last_quote < last_close(now) - CLOSE_TOLERANCE
