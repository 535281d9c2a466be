"""Where a history fetch resumes: from the last stored bar (fetched again), the whole range when
its head is missing, nothing when the range is complete and no newer bar can exist yet."""

from datetime import datetime, timedelta, timezone

from finhub.history import Task, next_bar, plan_task
from finhub.universe import build_universe

UNIVERSE = build_universe()
AAPL, BTC = UNIVERSE["AAPL"], UNIVERSE["BTC"]


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


START, END = utc(2026, 11, 2), utc(2026, 11, 21)         # Monday 2 .. Friday 20 November, end exclusive
MONDAY_BAR, FRIDAY_BAR = utc(2026, 11, 2, 5), utc(2026, 11, 20, 5)   # 00:00 New York


def test_nothing_stored_fetches_the_whole_range():
    assert plan_task(AAPL, "1d", START, END, (None, None, None), utc(2026, 11, 22)) == Task("AAPL", "1d", START, END)


def test_a_complete_range_whose_last_bar_was_final_makes_no_call():
    written_after_the_close = utc(2026, 11, 20, 21, 30)
    span = (MONDAY_BAR, FRIDAY_BAR, written_after_the_close)
    assert plan_task(AAPL, "1d", START, END, span, now=utc(2026, 11, 22)) is None       # Sunday
    assert plan_task(AAPL, "1d", START, END, span, now=utc(2026, 11, 22), force=True) == Task("AAPL", "1d", START, END)


def test_a_last_bar_written_before_its_session_closed_is_fetched_again():
    span = (MONDAY_BAR, FRIDAY_BAR, utc(2026, 11, 20, 18, 0))   # stored at 13:00 New York, mid-session
    assert plan_task(AAPL, "1d", START, END, span, now=utc(2026, 11, 22)) == Task("AAPL", "1d", FRIDAY_BAR, END)


def test_newer_bars_resume_from_the_last_stored_one():
    span = (MONDAY_BAR, utc(2026, 11, 18, 5), utc(2026, 11, 19, 12))
    assert plan_task(AAPL, "1d", START, END, span, now=utc(2026, 11, 22)) == Task("AAPL", "1d", utc(2026, 11, 18, 5), END)


def test_a_missing_head_fetches_the_whole_range():
    span = (utc(2026, 11, 10, 5), FRIDAY_BAR, utc(2026, 11, 21))   # the daily job's days, not the backfill's
    assert plan_task(AAPL, "1d", START, END, span, now=utc(2026, 11, 22)) == Task("AAPL", "1d", START, END)


def test_a_range_starting_on_a_weekend_is_complete_from_the_next_session():
    span = (MONDAY_BAR, FRIDAY_BAR, utc(2026, 11, 21))
    assert plan_task(AAPL, "1d", utc(2026, 11, 1), END, span, now=utc(2026, 11, 22)) is None   # Sunday 1st


def test_crypto_days_are_utc_and_every_day_has_a_bar():
    span = (utc(2026, 11, 2), utc(2026, 11, 19), utc(2026, 11, 20, 1))
    assert plan_task(BTC, "1d", START, END, span, now=utc(2026, 11, 22)) == Task("BTC", "1d", utc(2026, 11, 19), END)
    span = (utc(2026, 11, 2), utc(2026, 11, 20), utc(2026, 11, 21, 1))
    assert plan_task(BTC, "1d", START, END, span, now=utc(2026, 11, 22)) is None


def test_next_bar_follows_the_nyse_calendar():
    assert next_bar(AAPL, "1d", FRIDAY_BAR) == utc(2026, 11, 23, 5)                  # over the weekend
    assert next_bar(AAPL, "1d", utc(2026, 11, 25, 5)) == utc(2026, 11, 27, 5)        # over Thanksgiving
    assert next_bar(AAPL, "1h", utc(2026, 11, 20, 20, 30)) == utc(2026, 11, 23, 14, 30)  # to Monday's open
    assert next_bar(BTC, "1h", utc(2026, 11, 21, 23, 0)) == utc(2026, 11, 22) == next_bar(BTC, "1d", utc(2026, 11, 21))
    assert next_bar(AAPL, "1d", utc(2000, 1, 3, 5)) == utc(2000, 1, 3, 5) + timedelta(days=1)  # before the calendar


def test_a_range_before_the_exchange_calendar_is_planned_not_a_crash():
    start, end = utc(2004, 1, 5), utc(2004, 2, 2)
    span = (utc(2004, 1, 5, 5), utc(2004, 1, 30, 5), utc(2004, 1, 30, 22))
    # Outside the calendar a bar a day is assumed: at worst one call too many, from the last bar.
    assert plan_task(AAPL, "1d", start, end, span, now=utc(2026, 11, 22)) == Task("AAPL", "1d", span[1], end)
    assert plan_task(AAPL, "1d", start, end, (None, None, None), now=utc(2026, 11, 22)) == Task("AAPL", "1d", start, end)
