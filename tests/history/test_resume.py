"""What a history fetch plans from a count of the stored bars: the whole range when a bar is missing
before the last stored one (head or middle), a resume from the last stored bar (fetched again) when
only newer bars may be missing, nothing when the range is complete, and never again a bar that a
fetch was answered without."""

from datetime import UTC, datetime

from finhub.calendar import bar_starts, missing
from finhub.jobs.history import Task, plan_task
from finhub.storage import BarStats
from finhub.universe import build_universe

UNIVERSE = build_universe()
AAPL, BTC = UNIVERSE["AAPL"], UNIVERSE["BTC"]


def utc(*args):
    return datetime(*args, tzinfo=UTC)


START, END = utc(2026, 11, 2), utc(2026, 11, 21)         # Monday 2 .. Friday 20 November, end exclusive
FRIDAY_BAR = utc(2026, 11, 20, 5)   # 00:00 New York
SESSIONS = 15                                             # three full weeks
SUNDAY = utc(2026, 11, 22)


def planned(asset, stored, now=SUNDAY, start=START, end=END, absent=(), force=False, interval="1d"):
    """plan_task as ``history.plan`` calls it: the bars that exist by ``now``, what is stored, what was absent."""
    expected = bar_starts(asset, interval, start, min(end, now))
    return plan_task(asset, interval, start, end, expected, BarStats(*stored), [t.timestamp() for t in absent], force)


def test_nothing_stored_fetches_the_whole_range():
    assert planned(AAPL, (0, None, None)) == Task("AAPL", "1d", START, END)


def test_a_complete_range_whose_last_bar_was_final_makes_no_call():
    written_after_the_close = utc(2026, 11, 20, 21, 30)
    stored = (SESSIONS, FRIDAY_BAR, written_after_the_close)
    assert planned(AAPL, stored) is None
    assert planned(AAPL, stored, force=True) == Task("AAPL", "1d", START, END)


def test_a_last_bar_written_before_its_session_closed_is_fetched_again():
    stored = (SESSIONS, FRIDAY_BAR, utc(2026, 11, 20, 18, 0))   # stored at 13:00 New York, mid-session
    assert planned(AAPL, stored) == Task("AAPL", "1d", FRIDAY_BAR, END)


def test_newer_bars_resume_from_the_last_stored_one():
    stored = (SESSIONS - 2, utc(2026, 11, 18, 5), utc(2026, 11, 19, 12))
    assert planned(AAPL, stored) == Task("AAPL", "1d", utc(2026, 11, 18, 5), END)


def test_a_missing_head_fetches_the_whole_range():
    stored = (SESSIONS - 6, FRIDAY_BAR, utc(2026, 11, 21))   # the daily job's days from the 10th, not the backfill's
    assert planned(AAPL, stored) == Task("AAPL", "1d", START, END)


def test_a_gap_in_the_middle_fetches_the_whole_range():
    stored = (SESSIONS - 3, FRIDAY_BAR, utc(2026, 11, 21))   # head and tail stored, the 10th to the 12th missing
    assert planned(AAPL, stored) == Task("AAPL", "1d", START, END)


def test_bars_a_fetch_was_answered_without_are_not_asked_for_again():
    stored = (SESSIONS - 1, FRIDAY_BAR, utc(2026, 11, 21))   # a halted day, the 11th
    assert planned(AAPL, stored, absent=[utc(2026, 11, 11, 5)]) is None
    # ... but a gap elsewhere still is, and so is a newer bar the halted stock may have since
    assert planned(AAPL, (SESSIONS - 2, FRIDAY_BAR, utc(2026, 11, 21)), absent=[utc(2026, 11, 11, 5)]) == \
        Task("AAPL", "1d", START, END)
    assert planned(AAPL, stored, now=utc(2026, 11, 23, 22), end=utc(2026, 11, 24), absent=[utc(2026, 11, 11, 5)]) == \
        Task("AAPL", "1d", FRIDAY_BAR, utc(2026, 11, 24))


def test_a_range_whose_bars_were_all_absent_makes_no_call():
    # A backfill reaching before a listing: the provider answered without every bar of the range.
    every_session = [utc(2026, 11, d, 5) for d in (*range(2, 7), *range(9, 14), *range(16, 21))]
    assert planned(AAPL, (0, None, None), absent=every_session) is None


def test_a_range_starting_on_a_weekend_is_complete_from_the_next_session():
    stored = (SESSIONS, FRIDAY_BAR, utc(2026, 11, 21))
    assert planned(AAPL, stored, start=utc(2026, 11, 1)) is None   # Sunday 1st
    assert planned(AAPL, (0, None, None), start=utc(2026, 11, 21), end=SUNDAY) is None   # a weekend has no bar


def test_crypto_days_are_utc_and_every_day_has_a_bar():
    stored = (18, utc(2026, 11, 19), utc(2026, 11, 20, 1))
    assert planned(BTC, stored) == Task("BTC", "1d", utc(2026, 11, 19), END)
    # CoinGecko stamps a day with its first point's time
    assert planned(BTC, (19, utc(2026, 11, 20, 0, 3), utc(2026, 11, 21, 1))) is None


def test_bars_follow_the_nyse_calendar():
    def bars(asset, interval, start, end):
        return [datetime.fromtimestamp(t, UTC) for t in bar_starts(asset, interval, start, end)]

    assert bars(AAPL, "1d", utc(2026, 11, 20, 6), utc(2026, 11, 28)) == [   # over the weekend and Thanksgiving
        utc(2026, 11, d, 5) for d in (23, 24, 25, 27)]
    assert bars(AAPL, "1h", utc(2026, 11, 20, 20), utc(2026, 11, 23, 16)) == [   # Friday's last bar, Monday's first two
        utc(2026, 11, 20, 20, 30), utc(2026, 11, 23, 14, 30), utc(2026, 11, 23, 15, 30)]
    assert len(bars(AAPL, "1h", utc(2026, 11, 27), utc(2026, 11, 28))) == 4             # the early close at 13:00
    assert bars(AAPL, "1wk", utc(2026, 11, 3), utc(2026, 11, 24)) == [utc(2026, 11, 9, 5), utc(2026, 11, 16, 5),
                                                                       utc(2026, 11, 23, 5)]
    assert bars(BTC, "1h", utc(2026, 11, 21, 22, 30), utc(2026, 11, 22, 1)) == [utc(2026, 11, 21, 23),
                                                                                 utc(2026, 11, 22)]
    assert bars(BTC, "1wk", utc(2026, 11, 1), utc(2026, 11, 17)) == [utc(2026, 11, d) for d in (2, 9, 16)]
    # Before the calendar (~20 years back) every weekday is a session: 2004-01-19 (a holiday) included.
    assert bars(AAPL, "1d", utc(2004, 1, 16), utc(2004, 1, 21)) == [utc(2004, 1, d, 5) for d in (16, 19, 20)]


def test_a_stored_time_counts_for_the_bar_whose_period_holds_it():
    days = bar_starts(BTC, "1d", utc(2026, 11, 1), utc(2026, 11, 5))
    stored = [utc(2026, 11, 1, 0, 3).timestamp(), utc(2026, 11, 3, 0, 4).timestamp(), utc(2026, 11, 4).timestamp()]
    assert missing(days, stored) == [utc(2026, 11, 2).timestamp()]


def test_a_range_before_the_exchange_calendar_is_planned_not_a_crash():
    start, end = utc(2004, 1, 5), utc(2004, 2, 2)
    stored = (19, utc(2004, 1, 30, 5), utc(2004, 1, 30, 22))   # 20 weekdays, Martin Luther King day not traded
    # Outside the calendar every weekday is assumed a session: at worst one call too many, and the holiday is then
    # known absent.
    assert planned(AAPL, stored, start=start, end=end) == Task("AAPL", "1d", start, end)
    assert planned(AAPL, stored, start=start, end=end, absent=[utc(2004, 1, 19, 5)]) is None
