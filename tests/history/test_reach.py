"""The intraday bar grid (NYSE sessions with their holidays and 13:00 early closes, crypto's UTC
minutes), the fewest calls a provider's reach allows (a span, a calendar month), and when stock
intraday bars are due."""

from datetime import UTC, datetime, timedelta

import pytest

from finhub.calendar import bar_starts, intraday_due
from finhub.jobs.history import windows
from finhub.universe import build_universe
from providers.base import Reach

UNIVERSE = build_universe()
AAPL, BTC = UNIVERSE["AAPL"], UNIVERSE["BTC"]
MINUTE, DAY = 60.0, 86400.0


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_thanksgiving_week_2026_has_full_sessions_a_holiday_and_a_1300_close():
    # Monday 23 to Friday 27 November 2026: Thursday closed, Friday closes at 13:00 New York (18:00 UTC).
    bars = bar_starts(AAPL, "1m", utc(2026, 11, 23), utc(2026, 11, 28))
    by_day = {}
    for t in bars:
        day = datetime.fromtimestamp(t, UTC).date().day
        by_day[day] = by_day.get(day, 0) + 1
    assert by_day == {23: 390, 24: 390, 25: 390, 27: 210}
    assert datetime.fromtimestamp(bars[0], UTC) == utc(2026, 11, 23, 14, 30)     # 9:30 EST
    assert datetime.fromtimestamp(bars[-1], UTC) == utc(2026, 11, 27, 17, 59)    # the last minute before 13:00


@pytest.mark.parametrize("interval, per_session", [("5m", 78), ("15m", 26), ("30m", 13), ("1h", 7), ("90m", 5)])
def test_a_full_session_has_its_bars_from_the_open(interval, per_session):
    assert len(bar_starts(AAPL, interval, utc(2026, 11, 24), utc(2026, 11, 25))) == per_session


def test_crypto_minutes_are_every_utc_minute():
    bars = bar_starts(BTC, "1m", utc(2026, 11, 26, 23, 58, 30), utc(2026, 11, 27, 0, 2))
    assert [datetime.fromtimestamp(t, UTC).minute for t in bars] == [59, 0, 1]


def test_a_7_day_span_covers_bars_greedily_from_the_first_not_yet_covered():
    week = Reach(span=timedelta(days=7))
    bars = [0.0, 3 * DAY, 7 * DAY - MINUTE, 7 * DAY, 20 * DAY]
    assert windows(week, bars, MINUTE, 30 * DAY) == [(0.0, 7 * DAY), (7 * DAY, 7 * DAY + MINUTE),
                                                      (20 * DAY, 27 * DAY)]


def test_a_provider_without_a_span_answers_all_in_one_call_to_the_range_end():
    assert windows(Reach(), [5 * MINUTE, 9 * DAY], MINUTE, 10 * DAY) == [(5 * MINUTE, 10 * DAY)]


def test_a_monthly_reach_makes_one_call_per_month_with_missing_bars():
    monthly = Reach(month_zone="America/New_York")
    jan, feb, apr = (utc(2026, m, 5, 15).timestamp() for m in (1, 2, 4))
    calls = windows(monthly, [jan, jan + DAY, feb, apr], MINUTE, utc(2026, 5, 1).timestamp())
    assert windows(monthly, [apr], MINUTE, utc(2026, 6, 1).timestamp()) == [(apr, utc(2026, 5, 1, 4).timestamp())]
    assert [(datetime.fromtimestamp(a, UTC).month, datetime.fromtimestamp(b, UTC)) for a, b in calls] == [
        (1, datetime.fromtimestamp(jan + DAY + MINUTE, UTC)), (2, datetime.fromtimestamp(feb + MINUTE, UTC)),
        (4, utc(2026, 5, 1))]   # the last call runs to the range's end (before its month's, 04:00 UTC)


def test_stock_intraday_bars_are_due_while_open_and_just_after_the_close():
    every = timedelta(minutes=15)
    assert intraday_due(utc(2026, 11, 24, 15), every)                   # Tuesday 10:00 New York
    assert intraday_due(utc(2026, 11, 24, 21, 10), every)               # 10 minutes after the close
    assert not intraday_due(utc(2026, 11, 24, 21, 30), every)
    assert intraday_due(utc(2026, 11, 27, 18, 5), every)                # just after Friday's 13:00 close
    assert not intraday_due(utc(2026, 11, 26, 16), every)               # Thanksgiving
    assert not intraday_due(utc(2026, 11, 28, 16), every)               # Saturday


def test_pre_and_post_market_bars_when_configured():
    # Wednesday 25 November 2026: 4:00 to 20:00 New York; Friday 27th closes at 13:00, its post-market at 17:00.
    full = bar_starts(AAPL, "5m", utc(2026, 11, 25, 6), utc(2026, 11, 26, 6), prepost=True)
    assert len(full) == 16 * 12
    assert datetime.fromtimestamp(full[0], UTC) == utc(2026, 11, 25, 9)        # 4:00 EST
    assert datetime.fromtimestamp(full[-1], UTC) == utc(2026, 11, 26, 0, 55)    # 19:55 EST, the next UTC day
    assert len(bar_starts(AAPL, "5m", utc(2026, 11, 27, 6), utc(2026, 11, 28, 6), prepost=True)) == 13 * 12
    assert len(bar_starts(AAPL, "5m", utc(2026, 11, 25), utc(2026, 11, 26))) == 78     # not configured: the session
