"""Staleness: crypto ages by the wall clock, stocks only while NYSE is open (holidays, early closes)."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finhub.model import AssetType
from finhub.validation import STOCK_LIMITS, market_age
from finhub.validation.heartbeat import stale_before

STOCK, CRYPTO = AssetType.STOCK, AssetType.CRYPTO
FRIDAY_CLOSE = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)   # 16:00 New York


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def minutes(n):
    return timedelta(minutes=n)


@pytest.mark.parametrize("asset_type, stamped, read, age", [
    # A Friday-close price is current all weekend and on Monday before the open ...
    (STOCK, FRIDAY_CLOSE, utc(2026, 11, 21, 12, 0), minutes(0)),            # Saturday
    (STOCK, FRIDAY_CLOSE, utc(2026, 11, 22, 20, 0), minutes(0)),            # Sunday
    (STOCK, FRIDAY_CLOSE, utc(2026, 11, 23, 14, 0), minutes(0)),            # Monday 09:00, pre-open
    # ... and ages from the Monday open on.
    (STOCK, FRIDAY_CLOSE, utc(2026, 11, 23, 14, 45), minutes(15)),
    (STOCK, FRIDAY_CLOSE, utc(2026, 11, 23, 15, 30), minutes(60)),
    # Wednesday 15:00 read Friday 12:00: 1 h Wednesday + 6.5 h Thursday + 2.5 h Friday.
    (STOCK, utc(2026, 11, 18, 20, 0), utc(2026, 11, 20, 17, 0), minutes(600)),
    # Christmas 2025: the 13:00 early close of Christmas Eve is current through the holiday.
    (STOCK, utc(2025, 12, 24, 18, 0), utc(2025, 12, 25, 20, 0), minutes(0)),
    (STOCK, utc(2025, 12, 24, 18, 0), utc(2025, 12, 26, 14, 40), minutes(10)),
    # Good Friday 2026: Thursday's close is current through Monday's pre-open.
    (STOCK, utc(2026, 4, 2, 20, 0), utc(2026, 4, 3, 18, 0), minutes(0)),
    (STOCK, utc(2026, 4, 2, 20, 0), utc(2026, 4, 6, 13, 0), minutes(0)),
    (STOCK, utc(2026, 4, 2, 20, 0), utc(2026, 4, 6, 13, 45), minutes(15)),
    # Thanksgiving, then the 13:00 early close the day after.
    (STOCK, utc(2026, 11, 25, 21, 0), utc(2026, 11, 26, 18, 0), minutes(0)),
    (STOCK, utc(2026, 11, 27, 18, 0), utc(2026, 11, 27, 20, 30), minutes(0)),
    (STOCK, utc(2026, 11, 27, 17, 0), utc(2026, 11, 27, 20, 30), minutes(60)),
    # Crypto trades all the time: wall-clock age, weekends included.
    (CRYPTO, FRIDAY_CLOSE, utc(2026, 11, 21, 12, 0), minutes(15 * 60)),
    (CRYPTO, utc(2025, 12, 25, 12, 0), utc(2025, 12, 25, 12, 10), minutes(10)),
    # A market time slightly ahead of our clock is not old.
    (CRYPTO, FRIDAY_CLOSE + minutes(2), FRIDAY_CLOSE, minutes(0)),
    (STOCK, utc(2026, 11, 20, 17, 2), utc(2026, 11, 20, 17, 0), minutes(0)),
])
def test_market_age(asset_type, stamped, read, age):
    assert market_age(asset_type, stamped, read) == age


@pytest.mark.parametrize("stamped, read, stale", [
    (FRIDAY_CLOSE, utc(2026, 11, 21, 12, 0), False),                 # Friday close read Saturday
    (FRIDAY_CLOSE, utc(2026, 11, 23, 14, 0), False),                 # ... Monday pre-open
    (FRIDAY_CLOSE, utc(2026, 11, 23, 15, 0), False),                 # exactly the 30-minute heartbeat
    (FRIDAY_CLOSE, utc(2026, 11, 23, 15, 0, 1), True),
    (utc(2026, 11, 18, 20, 0), utc(2026, 11, 20, 17, 0), True),      # Wednesday read Friday midday
    (utc(2026, 11, 27, 18, 0), utc(2026, 11, 30, 12, 0), False),     # early close read the Monday after
    (utc(2026, 11, 27, 17, 0), utc(2026, 11, 27, 20, 30), True),     # an hour before the early close
])
def test_stock_staleness_cutoff(stamped, read, stale):
    assert (stamped < stale_before(STOCK, read, STOCK_LIMITS.heartbeat)) is stale


moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 6, 1),
                       timezones=st.just(UTC))


@settings(max_examples=300, deadline=None)
@given(asset_type=st.sampled_from([STOCK, CRYPTO]), now=moments,
       back=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=12)),
       heartbeat=st.sampled_from([minutes(1), minutes(30), minutes(390), timedelta(days=2)]))
def test_cutoff_agrees_with_market_age(asset_type, now, back, heartbeat):
    stamped = now - back
    age = market_age(asset_type, stamped, now)
    # Float seconds round to the microsecond: skip moments within a millisecond of the boundary.
    if abs(age - heartbeat) > timedelta(milliseconds=1):
        assert (stamped < stale_before(asset_type, now, heartbeat)) is (age > heartbeat)
