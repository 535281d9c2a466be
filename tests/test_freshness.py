"""Which assets lack a fresh quote: crypto by the clock, stocks by NYSE's sessions (holidays, early closes)."""

from datetime import UTC, datetime, timedelta

import pytest

from finhub.config import ScheduleSettings
from finhub.runtime.health import is_stale, stale_quotes
from finhub.universe import build_universe

SCHEDULE = ScheduleSettings()  # crypto every 2 min, stocks every 5 min
UTC = UTC
UNIVERSE = build_universe()
AAPL, BTC = UNIVERSE["AAPL"], UNIVERSE["BTC"]


def at(day, hour, minute=0):
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize("asset, now, last, stale", [
    (BTC, at(20, 15), at(20, 14, 43), False),
    (BTC, at(20, 15), at(20, 14, 40), True),            # 3 runs of 6 min missed, and the minute of resolution
    (BTC, at(21, 3), None, True),                       # never stored
    (AAPL, at(20, 15), at(20, 14, 50), False),          # Friday, NYSE open since 14:30 UTC
    (AAPL, at(20, 15), at(20, 14, 43), True),           # 3 runs of 5 min (and a minute) missed while trading
    (AAPL, at(20, 14, 35), at(19, 21), False),          # just opened: Thursday's close still does
    (AAPL, at(20, 14, 35), at(18, 21), True),           # ... but not Wednesday's
    (AAPL, at(21, 12), at(20, 21), False),              # Saturday: Friday's close
    (AAPL, at(21, 12), at(20, 20, 30), True),           # Saturday, the close was never captured
    (AAPL, at(26, 16), at(25, 21), False),              # Thanksgiving: Wednesday's close
    (AAPL, at(27, 19), at(27, 18), False),              # Black Friday closes at 13:00 New York
    (AAPL, at(27, 19), at(27, 17, 40), True),
])
def test_stale_by_the_clock_for_crypto_and_by_the_sessions_for_stocks(asset, now, last, stale):
    assert is_stale(asset, last, SCHEDULE, now) is stale


def test_only_active_assets_are_listed_with_their_newest_market_time():
    now = at(20, 15)
    last = {"AAPL": at(20, 14, 58), "BTC": at(20, 12), "HES": at(20, 14, 58) - timedelta(days=400)}
    stale = stale_quotes([AAPL, BTC, UNIVERSE["HES"], UNIVERSE["ETH"]], last, SCHEDULE, now)
    assert [(a.symbol, t) for a, t in stale] == [("BTC", at(20, 12)), ("ETH", None)]


def _seconds(day, hour, minute, second):
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


FAST = ScheduleSettings(crypto_quotes=10, stock_quotes=15)  # sub-minute schedules


@pytest.mark.parametrize("asset, now, last, source, stale", [
    pytest.param(BTC, _seconds(20, 15, 0, 59), at(20, 15), "coingecko", False,
                 id="crypto every 10 s, minute-stamped: 59 s old is the current minute, fresh"),
    pytest.param(BTC, _seconds(20, 15, 1, 29), at(20, 15), "coingecko", False,
                 id="crypto every 10 s: 89 s old, the next minute's stamp not yet out, fresh"),
    pytest.param(BTC, _seconds(20, 15, 1, 31), at(20, 15), "coingecko", True,
                 id="crypto every 10 s: past 3 runs plus the minute of resolution, stale"),
    pytest.param(BTC, _seconds(20, 15, 1, 29), at(20, 15), None, False,
                 id="source unknown: the coarsest resolution"),
    pytest.param(AAPL, _seconds(20, 15, 1, 44), at(20, 15), "yahoo", False,
                 id="stocks every 15 s while trading, minute-stamped: 104 s old, fresh"),
    pytest.param(AAPL, _seconds(20, 15, 1, 46), at(20, 15), "yahoo", True,
                 id="stocks every 15 s: past 3 runs plus a minute, stale"),
    pytest.param(AAPL, _seconds(20, 15, 1, 46), at(20, 15), "alphavantage", True,
                 id="stocks through Alpha Vantage, also minute-stamped"),
])
def test_a_sub_minute_schedule_allows_for_the_providers_minute_stamped_market_times(asset, now, last, source,
                                                                                    stale):
    assert is_stale(asset, last, FAST, now, source) is stale


def test_rows_arriving_every_run_of_a_sub_minute_schedule_are_never_stale():
    """Crypto stored every 10 s for 5 minutes, each row stamped with the minute it was fetched in."""
    start = at(20, 15)
    for tick in range(0, 300, 10):
        now = start + timedelta(seconds=tick + 9)  # just before the next run
        stamped = (start + timedelta(seconds=tick)).replace(second=0)
        assert stale_quotes([BTC], {"BTC": stamped}, FAST, now, {"BTC": "coingecko"}) == [], now
