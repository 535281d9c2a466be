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


def test_daily_levels_come_only_from_real_ohlc_or_quotes(tmp_path):
    """Stored crypto history: a day of CoinGecko close-only points gets no levels (not O=H=L=C); a day
    with Yahoo's OHLC bar and a day of quotes get theirs."""
    from datetime import UTC, datetime

    from finhub.jobs.aggregation import aggregate
    from finhub.storage import make_engine, migrate, stored_levels, upsert_prices
    from finhub.universe import build_universe

    engine = make_engine(f"sqlite:///{tmp_path / 'levels.db'}")
    migrate(engine)

    def row(day, hour, interval, price, source, high=None, low=None, open_=None):
        return {"symbol": "BTC", "asset_type": "crypto", "interval": interval, "price": price, "source": source,
                "timestamp": datetime(2026, 11, day, hour, tzinfo=UTC), "open": open_, "high": high, "low": low}

    upsert_prices(engine, [
        row(10, 0, "1d", 90_000.0, "coingecko"),                                   # close only
        row(11, 0, "1d", 91_000.0, "yahoo", high=92_500.0, low=89_000.0, open_=90_100.0),
        row(11, 0, "1h", 90_500.0, "coingecko"),                                    # close only, same day
        row(12, 9, "quote", 91_200.0, "coingecko"), row(12, 15, "quote", 93_000.0, "coingecko"),
    ])
    aggregate(engine, [build_universe()["BTC"]], None)
    levels = {r["day"]: r for r in stored_levels(engine, "BTC")}
    assert sorted(levels) == [date(2026, 11, 11), date(2026, 11, 12)]
    eleventh = levels[date(2026, 11, 11)]
    assert (eleventh["open"], eleventh["high"], eleventh["low"], eleventh["close"]) == (90_100.0, 92_500.0,
                                                                                         89_000.0, 91_000.0)
    twelfth = levels[date(2026, 11, 12)]
    assert (twelfth["open"], twelfth["high"], twelfth["low"], twelfth["close"]) == (91_200.0, 93_000.0, 91_200.0,
                                                                                    93_000.0)
