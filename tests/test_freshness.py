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
    (BTC, at(20, 15), at(20, 14, 55), False),
    (BTC, at(20, 15), at(20, 14, 53), True),            # 3 runs of 2 min missed
    (BTC, at(21, 3), None, True),                       # never stored
    (AAPL, at(20, 15), at(20, 14, 50), False),          # Friday, NYSE open since 14:30 UTC
    (AAPL, at(20, 15), at(20, 14, 44), True),           # 3 runs of 5 min missed while trading
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
