"""The price history on SQLite and PostgreSQL: idempotent upserts, UTC, fast lookups, retention."""

import multiprocessing
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text

from finhub.storage import (
    BarStats,
    bar_stats,
    bar_times,
    delete_older_than,
    latest_prices,
    make_engine,
    migrate,
    prices,
    summary,
    upsert_prices,
)

T0 = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)


def row(symbol="AAPL", minutes=0, price=100.0, interval="quote", asset_type="stock", **extra):
    return {"symbol": symbol, "asset_type": asset_type, "interval": interval,
            "timestamp": T0 - timedelta(minutes=minutes), "price": price, "source": "yahoo", **extra}


def count(engine) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(prices)).scalar()


def test_upserting_twice_keeps_the_count_and_updates_values(engine):
    batch = [row(s, m, 100.0 + m) for s in ("AAPL", "MSFT") for m in range(5)]
    assert upsert_prices(engine, batch) == 10
    first = latest_prices(engine)["AAPL"]
    assert upsert_prices(engine, [dict(r, price=r["price"] * 2, validation_status="validated",
                                       sources="coingecko,yahoo", max_deviation_pct=0.4) for r in batch]) == 10
    assert count(engine) == 10
    again = latest_prices(engine)["AAPL"]
    assert again["price"] == 200.0 and again["validation_status"] == "validated"
    assert again["sources"] == "coingecko,yahoo" and again["max_deviation_pct"] == 0.4
    assert again["created_at"] == first["created_at"] and again["updated_at"] > first["updated_at"]


def test_times_are_utc_in_and_out(engine):
    new_york = datetime(2026, 11, 20, 16, 0, tzinfo=ZoneInfo("America/New_York"))
    upsert_prices(engine, [dict(row(), timestamp=new_york)])
    stored = latest_prices(engine)["AAPL"]["timestamp"]
    assert stored == T0 and stored.utcoffset() == timedelta(0)
    assert latest_prices(engine, "quote", ["AAPL"])["AAPL"]["timestamp"] == T0


@pytest.mark.parametrize("bad, message", [
    ({"price": float("nan")}, "finite and positive"),
    ({"price": 0.0}, "finite and positive"),
    ({"price": -3.0}, "finite and positive"),
    ({"price": "12"}, "finite and positive"),
    ({"timestamp": datetime(2026, 11, 20, 21, 0)}, "timezone-aware"),
    ({"interval": "4h"}, "interval"),
    ({"asset_type": "bond"}, "asset_type"),
    ({"validation_status": "maybe"}, "validation_status"),
    ({"source": None}, "lacks source"),
])
def test_bad_rows_are_refused_and_nothing_is_lost(engine, bad, message):
    upsert_prices(engine, [row("MSFT")])
    with pytest.raises(ValueError, match=message):
        upsert_prices(engine, [row("AAPL", 1), dict(row("AAPL"), **bad)])
    assert count(engine) == 1 and latest_prices(engine)["MSFT"]["price"] == 100.0


def test_latest_price_per_symbol_ignores_other_intervals(engine):
    upsert_prices(engine, [row("AAPL", m, 100.0 + m) for m in range(3)]
                  + [row("OLD", 60 * 24 * 30, 5.0)]
                  + [row("AAPL", -10, 999.0, interval="1d"), row("BARS", 0, 7.0, interval="1d")])
    latest = latest_prices(engine)
    assert {s: r["price"] for s, r in latest.items()} == {"AAPL": 100.0, "OLD": 5.0}
    assert {s: r["price"] for s, r in latest_prices(engine, "1d").items()} == {"AAPL": 999.0, "BARS": 7.0}
    assert set(latest_prices(engine, symbols=["OLD", "NOPE"])) == {"OLD"}
    assert latest_prices(engine, "1wk") == {}


def test_latest_price_narrowed_to_some_columns_matches_the_full_rows(engine):
    upsert_prices(engine, [row(s, m, 10.0 * (i + 1) + m) for i, s in enumerate(("AAPL", "MSFT")) for m in range(3)])
    full = latest_prices(engine, symbols=["AAPL", "MSFT", "NOPE"])
    narrow = latest_prices(engine, symbols=["AAPL", "MSFT", "NOPE"], columns=["price", "timestamp"])
    assert narrow == {s: {"symbol": s, "price": r["price"], "timestamp": r["timestamp"]} for s, r in full.items()}
    assert narrow["MSFT"] == {"symbol": "MSFT", "price": 20.0, "timestamp": T0}
    assert narrow["MSFT"]["timestamp"].utcoffset() == timedelta(0)


def test_latest_price_per_symbol_and_interval(engine):
    upsert_prices(engine, [row("BTC", m, interval="1d", asset_type="crypto") for m in (0, 1440, 2880)])
    assert latest_prices(engine, "1d", ["BTC"])["BTC"]["timestamp"] == T0
    assert latest_prices(engine, "1h", ["BTC"]) == {} and latest_prices(engine, "1d", ["ETH"]) == {}


def test_stored_bars_of_a_range_are_counted_and_listed(engine):
    days = [T0 - timedelta(days=d) for d in (0, 1, 3, 4, 6)]
    others = [row("BTC", 60, interval="1h", asset_type="crypto"), row("ETH", 0, interval="1d", asset_type="crypto")]
    upsert_prices(engine, [row("BTC", d * 1440, interval="1d", asset_type="crypto") for d in (0, 1, 3, 4, 6)] + others)
    start, end = T0 - timedelta(days=4), T0          # the end is excluded
    stats = bar_stats(engine, "BTC", "1d", start, end)
    assert (stats.bars, stats.last) == (3, days[1])
    assert abs(datetime.now(UTC) - stats.written) < timedelta(minutes=1)   # when it was upserted
    assert bar_times(engine, "BTC", "1d", start, end) == [days[3], days[2], days[1]]
    assert bar_stats(engine, "BTC", "1d", T0 + timedelta(seconds=1), T0 + timedelta(days=1)) == BarStats(0, None, None)


def test_retention_deletes_only_old_rows_in_batches(engine):
    upsert_prices(engine, [row("AAPL", m) for m in range(10)])
    assert delete_older_than(engine, T0 - timedelta(minutes=4, seconds=30), batch=2) == 5
    assert count(engine) == 5
    assert delete_older_than(engine, T0 - timedelta(days=1)) == 0


def test_summary_per_asset_type(engine):
    upsert_prices(engine, [row("AAPL", 5), row("AAPL", 1), row("BTC", 3, asset_type="crypto")])
    assert summary(engine) == {"stock": (2, T0 - timedelta(minutes=1)), "crypto": (1, T0 - timedelta(minutes=3))}


def test_readme_queries_work_verbatim(engine):
    upsert_prices(engine, [row("AAPL", 5), row("AAPL", 1), row("MSFT", 3)])
    with engine.connect() as c:
        assert c.execute(text("SELECT COUNT(*) FROM assets_assetpriceshistoric;")).scalar() == 3
        latest = c.execute(text("SELECT symbol, MAX(timestamp) as latest_update FROM assets_assetpriceshistoric "
                                "GROUP BY symbol ORDER BY latest_update DESC;")).all()
    assert [s for s, _ in latest] == ["AAPL", "MSFT"]


def test_migrating_again_keeps_data(engine):
    upsert_prices(engine, [row()])
    migrate(engine)
    assert count(engine) == 1


def _alembic(engine, action, revision):
    from alembic import command

    from finhub.storage.engine import alembic_config

    with engine.begin() as connection:
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def test_history_stored_before_the_latest_price_table_is_found_after_migrating_both_ways(database_url):
    """Rows a version before migrations 0004-0005 wrote (no copies kept) are what latest_prices finds."""
    url, options = database_url
    engine = make_engine(url, **options)
    _alembic(engine, "upgrade", "0003_daily_levels")
    batch = [row(s, m, 10.0 + m) for s in ("AAPL", "MSFT") for m in range(3)] + [row("MSFT", 60, 3.0, interval="1d")]
    stamp = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(prices.insert(), [dict(r, validation_status="single_source", sources="yahoo",
                                                  created_at=stamp, updated_at=stamp) for r in batch])
    _alembic(engine, "upgrade", "head")
    assert latest_prices(engine, symbols=["MSFT"], columns=["price", "timestamp"]) == {
        "MSFT": {"symbol": "MSFT", "price": 10.0, "timestamp": T0}}
    assert latest_prices(engine, "1d", columns=["price"]) == {"MSFT": {"symbol": "MSFT", "price": 3.0}}
    upsert_prices(engine, [dict(r, validation_status="validated") for r in batch])  # still one row per key
    for action, revision in (("downgrade", "0003_daily_levels"), ("upgrade", "head")):
        _alembic(engine, action, revision)
        assert count(engine) == 7, (action, revision)
    assert latest_prices(engine, symbols=["MSFT"], columns=["price", "validation_status"]) == {
        "MSFT": {"symbol": "MSFT", "price": 10.0, "validation_status": "validated"}}
    engine.dispose()


def _migrate(url, options, out):
    try:
        migrate(make_engine(url, **options))
        out.put("ok")
    except Exception as exc:  # reported to the parent
        out.put(repr(exc))


@pytest.mark.slow  # several processes migrating at once
def test_concurrent_migrations_from_several_processes(database_url):
    url, options = database_url
    out = multiprocessing.get_context("spawn").Queue()
    procs = [multiprocessing.get_context("spawn").Process(target=_migrate, args=(url, options, out)) for _ in range(3)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join()
    assert results == ["ok"] * 3
    engine = make_engine(url, **options)
    upsert_prices(engine, [row()])
    assert count(engine) == 1
