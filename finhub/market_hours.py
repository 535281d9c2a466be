"""When the stock market is open, from the NYSE calendar of exchange-calendars (holidays, early
closes and all), and whether a stock refresh is worth a provider call now."""

from __future__ import annotations

from datetime import datetime, timedelta
import warnings
from functools import cache

import exchange_calendars as xcals
import pandas as pd

#: The exchange whose sessions decide stock polling (ISO 10383 code).
EXCHANGE = "XNYS"
#: A quote whose market time is this close to the session close counts as the closing price
#: (providers stamp it a little before or after the bell).
CLOSE_TOLERANCE = timedelta(minutes=2)


# exchange-calendars 4.13 trips pandas 3.1's deprecation of tz-dropping ``.values``; harmless here.
warnings.filterwarnings("ignore", message=r".*values returning an ndarray that drops timezone")


@cache
def calendar() -> xcals.ExchangeCalendar:
    """The NYSE calendar, loaded once per process (~0.2 s)."""
    return xcals.get_calendar(EXCHANGE)


def _minute(now: datetime) -> pd.Timestamp:
    if now.tzinfo is None:
        raise ValueError("market hours need an aware datetime")
    return pd.Timestamp(now).tz_convert("UTC").floor("min")


def is_open(now: datetime) -> bool:
    """Whether NYSE is trading at ``now``."""
    return bool(calendar().is_open_on_minute(_minute(now)))


def last_close(now: datetime) -> datetime:
    """The most recent session close at or before ``now`` (UTC)."""
    minute = _minute(now)
    cal = calendar()
    if not cal.is_open_on_minute(minute) and cal.is_session(minute.normalize().tz_localize(None)):
        close = cal.session_close(minute.normalize().tz_localize(None))
        if close <= minute:
            return close.to_pydatetime()
    return cal.previous_close(minute).to_pydatetime()


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
    return is_open(now) and minute - calendar().previous_open(minute + pd.Timedelta(minutes=1)) < BELL_WINDOW


def just_closed(now: datetime) -> bool:
    """Whether a session (early closes included) closed within the last :data:`BELL_WINDOW`."""
    return timedelta(0) <= now - last_close(now) < BELL_WINDOW
