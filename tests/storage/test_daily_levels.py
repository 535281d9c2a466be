"""Market aggregation into the daily-levels table, on SQLite and PostgreSQL: OHLC per trading day
from stored quotes and bars, the next day's pivots, and a rerun that stores nothing twice."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from finhub.jobs.aggregation import aggregate, scheduled_since
from finhub.storage import stored_levels, upsert_prices
from finhub.storage.schema import daily_levels
from finhub.universe import build_universe

UNIVERSE = build_universe()


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def row(symbol, stamp, price, interval="quote", **bar):
    asset_type = "crypto" if symbol == "BTC" else "stock"
    return {"symbol": symbol, "asset_type": asset_type, "interval": interval, "timestamp": stamp, "price": price,
            "source": "test", **bar}


ROWS = [
    # Friday 20 November 2026, New York session: quotes through the day (UTC 14:30-21:00)
    row("AAPL", utc(2026, 11, 20, 14, 31), 100.0), row("AAPL", utc(2026, 11, 20, 17, 0), 106.0),
    row("AAPL", utc(2026, 11, 20, 19, 0), 97.0), row("AAPL", utc(2026, 11, 20, 21, 0), 103.0),
    # Monday 23: a daily bar (stamped 00:00 New York) and a quote after it
    row("AAPL", utc(2026, 11, 23, 5), 104.0, "1d", open=102.0, high=108.0, low=101.0),
    row("AAPL", utc(2026, 11, 23, 20, 0), 105.0),
    # Saturday: not a session, so not a trading day
    row("AAPL", utc(2026, 11, 21, 15, 0), 999.0),
    # BTC: a UTC day either side of midnight (New York's evening of the 20th)
    row("BTC", utc(2026, 11, 20, 23, 0), 50_000.0), row("BTC", utc(2026, 11, 21, 1, 0), 51_000.0),
    row("BTC", utc(2026, 11, 21, 12, 0), 49_000.0), row("BTC", utc(2026, 11, 21, 23, 59), 50_500.0),
]


def level_rows(engine):
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(daily_levels)).scalar()


def test_levels_and_pivots_per_trading_day_and_a_rerun_stores_nothing_twice(engine):
    upsert_prices(engine, ROWS)
    assets = [UNIVERSE["AAPL"], UNIVERSE["BTC"]]
    assert scheduled_since(engine, utc(2026, 11, 24)) is None   # first run: the whole history
    assert aggregate(engine, assets, None) == 2 + 2

    aapl = {r["day"]: r for r in stored_levels(engine, "AAPL")}
    assert set(aapl) == {date(2026, 11, 20), date(2026, 11, 23)}
    friday = aapl[date(2026, 11, 20)]
    assert (friday["open"], friday["high"], friday["low"], friday["close"]) == (100.0, 106.0, 97.0, 103.0)
    # Pivots for Monday from Friday: PP = (106 + 97 + 103) / 3 = 102; R1 = 2·102 − 97 = 107;
    # R2 = 102 + 9 = 111; S1 = 2·102 − 106 = 98; S2 = 102 − 9 = 93.
    assert (friday["pp"], friday["r1"], friday["r2"], friday["s1"], friday["s2"]) == pytest.approx(
        (102.0, 107.0, 111.0, 98.0, 93.0))
    monday = aapl[date(2026, 11, 23)]
    assert (monday["open"], monday["high"], monday["low"], monday["close"]) == (102.0, 108.0, 101.0, 105.0)

    btc = {r["day"]: r for r in stored_levels(engine, "BTC")}
    assert set(btc) == {date(2026, 11, 20), date(2026, 11, 21)}
    assert (btc[date(2026, 11, 21)]["open"], btc[date(2026, 11, 21)]["close"]) == (51_000.0, 50_500.0)

    assert aggregate(engine, assets, None) == 4 and level_rows(engine) == 4
    assert scheduled_since(engine, utc(2026, 11, 24)) == utc(2026, 11, 21)

    upsert_prices(engine, [row("AAPL", utc(2026, 11, 23, 20, 59), 110.0)])   # a later quote on Monday
    aggregate(engine, assets, utc(2026, 11, 23, 12))
    assert level_rows(engine) == 4
    monday = {r["day"]: r for r in stored_levels(engine, "AAPL")}[date(2026, 11, 23)]
    assert (monday["high"], monday["close"]) == (110.0, 110.0)


def test_stock_days_before_the_exchange_calendar_are_weekdays_not_a_crash(engine):
    # exchange-calendars covers about 20 years back; a long backfill reaches further.
    old = [row("AAPL", utc(2004, 1, 5, 5), 10.0, "1d", open=9.5, high=10.5, low=9.0),   # a Monday
           row("AAPL", utc(2004, 1, 10, 5), 11.0, "1d", open=11.0, high=11.0, low=11.0)]  # a Saturday
    upsert_prices(engine, old)
    assert aggregate(engine, [UNIVERSE["AAPL"]], None) == 1
    assert [r["day"] for r in stored_levels(engine, "AAPL")] == [date(2004, 1, 5)]
