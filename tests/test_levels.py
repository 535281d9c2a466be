"""Daily levels and pivots: trading days per asset type, and the pivot formulas by hand."""

from datetime import date

import pandas as pd
import pytest

from finhub.jobs.aggregation import daily_levels, pivots, pivots_for
from finhub.model import AssetType


def frame(rows):
    return pd.DataFrame(rows, columns=["timestamp", "price"]).assign(timestamp=lambda f: pd.to_datetime(f.timestamp, utc=True))


def test_pivots_by_hand():
    p = pivots(high=110.0, low=100.0, close=104.0)
    assert p.pp == pytest.approx(314 / 3)
    assert p.r1 == pytest.approx(2 * 314 / 3 - 100) and p.s1 == pytest.approx(2 * 314 / 3 - 110)
    assert p.r2 == pytest.approx(314 / 3 + 10) and p.s2 == pytest.approx(314 / 3 - 10)


def test_stock_days_follow_new_york_time_and_crypto_days_utc():
    quotes = frame([
        ("2026-11-19T14:35:00Z", 100.0),   # Thu 09:35 New York
        ("2026-11-19T20:55:00Z", 104.0),   # Thu 15:55 New York
        ("2026-11-20T02:00:00Z", 90.0),    # Thu 21:00 New York, but Friday in UTC
        ("2026-11-20T15:00:00Z", 106.0),   # Fri
    ])
    stock = daily_levels(quotes, AssetType.STOCK)
    assert list(stock.index) == [date(2026, 11, 19), date(2026, 11, 20)]
    thursday = stock.loc[date(2026, 11, 19)]
    assert (thursday.open, thursday.high, thursday.low, thursday.close) == (100.0, 104.0, 90.0, 90.0)
    crypto = daily_levels(quotes, AssetType.CRYPTO)
    assert crypto.loc[date(2026, 11, 19)].close == 104.0 and crypto.loc[date(2026, 11, 20)].open == 90.0


def test_bars_contribute_their_own_high_and_low_and_pivots_apply_next_day():
    bars = pd.DataFrame({
        "timestamp": pd.to_datetime(["2020-09-01T04:00:00Z", "2020-09-02T04:00:00Z"], utc=True),
        "open": [132.76, 137.59], "high": [134.80, 137.98], "low": [130.53, 127.00], "price": [134.18, 131.40],
    })
    levels = daily_levels(bars, AssetType.STOCK)
    first = pivots_for(levels, date(2020, 9, 2))
    assert first == pivots(134.80, 130.53, 134.18)
    assert pivots_for(levels, date(2020, 9, 1)) is None
    assert pivots_for(levels, date(2020, 9, 5)) == pivots(137.98, 127.00, 131.40)


def test_no_prices_no_levels():
    assert daily_levels(frame([]), AssetType.CRYPTO).empty
