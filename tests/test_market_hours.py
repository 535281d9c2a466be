"""Market hours from the NYSE calendar: weekends, holidays, early closes, and when to poll stocks."""

from datetime import UTC, datetime, timedelta

import pytest

from finhub.calendar import calendar, is_open, last_close, stock_quotes_due


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("moment, open_", [
    (utc(2026, 11, 20, 15, 0), True),     # Friday 10:00 New York
    (utc(2026, 11, 20, 21, 30), False),   # Friday after the close
    (utc(2026, 11, 21, 15, 0), False),    # Saturday
    (utc(2026, 11, 26, 15, 0), False),    # Thanksgiving
    (utc(2026, 11, 27, 17, 30), True),    # day after Thanksgiving, before the 13:00 early close
    (utc(2026, 11, 27, 18, 30), False),   # ... and after it
    (utc(2026, 4, 3, 15, 0), False),      # Good Friday
    (utc(2025, 12, 25, 15, 0), False),    # Christmas
])
def test_is_open(moment, open_):
    assert is_open(moment) is open_


def test_last_close_knows_weekends_holidays_and_early_closes():
    assert last_close(utc(2026, 11, 22, 12, 0)) == utc(2026, 11, 20, 21, 0)   # Sunday -> Friday 16:00 EST
    assert last_close(utc(2026, 11, 20, 21, 1)) == utc(2026, 11, 20, 21, 0)   # a minute after the close
    assert last_close(utc(2026, 11, 20, 15, 0)) == utc(2026, 11, 19, 21, 0)   # during a session: yesterday's
    assert last_close(utc(2026, 11, 27, 19, 0)) == utc(2026, 11, 27, 18, 0)   # early close at 13:00 EST
    assert last_close(utc(2026, 11, 26, 15, 0)) == utc(2026, 11, 25, 21, 0)   # Thanksgiving -> Wednesday


def test_stock_polling_stops_when_closed_but_captures_the_close_once():
    friday_close = utc(2026, 11, 20, 21, 0)
    assert stock_quotes_due(utc(2026, 11, 20, 15, 0), friday_close - timedelta(days=1))
    assert stock_quotes_due(utc(2026, 11, 20, 21, 5), utc(2026, 11, 20, 20, 55))  # the fetch just after close
    assert not stock_quotes_due(utc(2026, 11, 20, 21, 10), utc(2026, 11, 20, 20, 59, 59))  # stamped at the bell
    assert not stock_quotes_due(utc(2026, 11, 20, 21, 10), friday_close)          # close captured
    assert not stock_quotes_due(utc(2026, 11, 21, 12, 0), friday_close)           # Saturday
    assert not stock_quotes_due(utc(2026, 11, 26, 16, 0), utc(2026, 11, 25, 21, 0))  # Thanksgiving


def test_first_start_on_a_sunday_fetches_fridays_close_once():
    sunday = utc(2026, 11, 22, 10, 0)
    assert stock_quotes_due(sunday, None)
    assert stock_quotes_due(sunday, utc(2026, 11, 13, 21, 0))   # last stored a week ago
    assert not stock_quotes_due(sunday, utc(2026, 11, 20, 21, 0))


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        is_open(datetime(2026, 11, 20, 15, 0))


def test_answers_agree_with_exchange_calendars_minute_by_minute():
    """The bisection over session opens and closes answers as the calendar's own minute lookups,
    over Thanksgiving week 2026 (a holiday, an early close, a weekend)."""
    import pandas as pd

    cal = calendar()
    start = utc(2026, 11, 23, 0, 0)
    for minute in (start + timedelta(minutes=m) for m in range(0, 7 * 1440, 3)):
        stamp = pd.Timestamp(minute)
        assert is_open(minute + timedelta(seconds=59)) == cal.is_open_on_minute(stamp), minute
        day = stamp.normalize().tz_localize(None)
        closed_today = not cal.is_open_on_minute(stamp) and cal.is_session(day) and cal.session_close(day) <= stamp
        expected = cal.session_close(day) if closed_today else cal.previous_close(stamp)
        assert last_close(minute) == expected.to_pydatetime(), minute
