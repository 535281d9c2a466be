"""The history partitioned on PostgreSQL (a list partition per interval, a range partition per month):
the migration moves an existing table's rows over without losing one (whatever columns it has),
retention drops whole month partitions per interval, SQLite deletes per interval in batches, and
writes into months without a partition create it first."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from finhub.config import load_settings
from finhub.jobs.maintenance import cleanup
from finhub.storage import latest_prices, make_engine, prices, upsert_prices
from finhub.storage.partitions import partition_name
from tests.storage.test_prices import _alembic

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def bar(symbol, interval, moment, price=100.0):
    return {"symbol": symbol, "asset_type": "stock", "interval": interval, "timestamp": moment, "price": price,
            "source": "yahoo"}


def rows_of(engine, interval=None):
    query = select(func.count()).select_from(prices)
    if interval:
        query = query.where(prices.c.interval == interval)
    with engine.connect() as c:
        return c.execute(query).scalar()


def partitions(engine):
    with engine.connect() as c:
        return set(c.execute(text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relname LIKE 'assets_assetpriceshistoric_%' "
            "AND c.relkind IN ('r', 'p')")).scalars())


@pytest.mark.slow
def test_migration_moves_every_row_of_an_existing_table_with_its_extra_columns(postgres_schema):
    from tests.storage.conftest import POSTGRES_URL

    engine = make_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={postgres_schema}"})
    with engine.begin() as c:
        c.execute(text(f"DROP SCHEMA IF EXISTS {postgres_schema} CASCADE"))
        c.execute(text(f"CREATE SCHEMA {postgres_schema}"))
    _alembic(engine, "upgrade", "0007_corporate_actions")
    # An unpartitioned history with rows of every kind, the outlier columns of 0006 filled too.
    with engine.begin() as c:
        c.execute(text("""
            INSERT INTO assets_assetpriceshistoric (symbol, asset_type, interval, "timestamp", price, source,
                validation_status, sources, created_at, updated_at, outlier_source, outlier_price)
            SELECT 'S' || (g % 50), 'stock', (ARRAY['quote', '1m', '5m', '1h', '1d'])[g % 5 + 1],
                   TIMESTAMPTZ '2024-01-01 00:00Z' + g * INTERVAL '17 minutes', 1 + g, 'yahoo', 'single_source',
                   'yahoo', now(), now(), CASE WHEN g % 7 = 0 THEN 'alphavantage' END,
                   CASE WHEN g % 7 = 0 THEN g * 2.0 END
            FROM generate_series(1, 20000) g"""))
        before = c.execute(text("SELECT count(*), sum(price), sum(outlier_price), count(outlier_source), "
                                "min(id), max(id) FROM assets_assetpriceshistoric")).one()
    _alembic(engine, "upgrade", "head")
    with engine.connect() as c:
        assert c.execute(text("SELECT relkind FROM pg_class WHERE oid = to_regclass('assets_assetpriceshistoric')")
                         ).scalar() == "p"
        after = c.execute(text("SELECT count(*), sum(price), sum(outlier_price), count(outlier_source), "
                               "min(id), max(id) FROM assets_assetpriceshistoric")).one()
    assert after == before
    names = partitions(engine)
    assert {"assets_assetpriceshistoric_1m", "assets_assetpriceshistoric_1m_2024_01",
            "assets_assetpriceshistoric_quote_2024_08"} <= names
    # New rows get ids after the moved ones, and upserts still find their key.
    upsert_prices(engine, [bar("S4", "1d", datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=17 * 54), 7.0),
                           bar("NEW", "1m", NOW)])
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*), max(id) > :m FROM assets_assetpriceshistoric"), {"m": before[5]}
                         ).one() == (before[0] + 1, True)
    assert latest_prices(engine, "1m", ["NEW"], ["price"]) == {"NEW": {"symbol": "NEW", "price": 100.0}}
    engine.dispose()


def test_retention_drops_month_partitions_per_interval_on_postgresql(postgres_engine):
    old_minute, kept_minute = NOW - timedelta(days=70), NOW - timedelta(days=5)
    upsert_prices(postgres_engine, [bar("AAPL", "1m", old_minute + timedelta(minutes=m)) for m in range(10)] +
                  [bar("AAPL", "1m", kept_minute), bar("AAPL", "1d", old_minute)])
    month = partition_name("1m", old_minute.date().replace(day=1))
    assert month in partitions(postgres_engine)

    ctx = type("Ctx", (), {"engine": postgres_engine, "settings": load_settings(environ={})})()
    deleted = cleanup(ctx, NOW)         # 1m kept 30 days, 1d 365 days
    assert month not in partitions(postgres_engine)
    assert deleted == 0                  # the whole month went with its partition, no row deleted one by one
    assert rows_of(postgres_engine, "1m") == 1 and rows_of(postgres_engine, "1d") == 1
    assert partition_name("1d", old_minute.date().replace(day=1)) in partitions(postgres_engine)
    # ... and the months ahead exist for every interval
    assert partition_name("quote", datetime(2027, 2, 1).date()) in partitions(postgres_engine)


def test_retention_deletes_per_interval_in_batches_on_sqlite(tmp_path):
    from finhub.storage import migrate

    engine = make_engine(f"sqlite:///{tmp_path / 'f.db'}")
    migrate(engine)
    upsert_prices(engine, [bar("AAPL", "1m", NOW - timedelta(days=40, minutes=m)) for m in range(12)] +
                  [bar("AAPL", "1m", NOW - timedelta(days=1)), bar("AAPL", "5m", NOW - timedelta(days=40)),
                   bar("AAPL", "1d", NOW - timedelta(days=300))])
    statements = []

    from sqlalchemy import event

    event.listen(engine, "before_cursor_execute",
                 lambda *a: statements.append(a[2]) if a[2].lstrip().upper().startswith("DELETE") else None)
    ctx = type("Ctx", (), {"engine": engine, "settings": load_settings(environ={})})()
    assert cleanup(ctx, NOW, batch=5) == 12
    assert rows_of(engine, "1m") == 1 and rows_of(engine, "5m") == 1 and rows_of(engine, "1d") == 1
    assert len([s for s in statements if "assets_assetpriceshistoric" in s]) >= 3   # 12 rows, 5 a batch


def test_a_bulk_write_upserts_like_the_live_path_and_keeps_the_copies(engine):
    from finhub.storage import bulk_upsert_prices
    from finhub.storage.prices import BULK_ROWS

    start = NOW - timedelta(days=3)
    upsert_prices(engine, [bar("AAPL", "1m", start, 1.0)])                       # stored before: updated
    rows = [bar("AAPL", "1m", start + timedelta(minutes=m), 100.0 + m) for m in range(BULK_ROWS + 10)]
    rows.append(bar("AAPL", "1m", start, 5.0))                                   # the same key twice: the last wins
    assert bulk_upsert_prices(engine, rows) == BULK_ROWS + 11                    # rows written, as upsert_prices
    assert bulk_upsert_prices(engine, rows) == BULK_ROWS + 11                    # again: nothing twice
    assert rows_of(engine, "1m") == BULK_ROWS + 10
    with engine.connect() as c:
        first = c.execute(select(prices.c.price).where(prices.c.timestamp == start)).scalar()
    assert first == 5.0
    newest = start + timedelta(minutes=BULK_ROWS + 9)
    assert latest_prices(engine, "1m", ["AAPL"], ["price", "timestamp"]) == {
        "AAPL": {"symbol": "AAPL", "price": 100.0 + BULK_ROWS + 9, "timestamp": newest}}


def test_a_bulk_write_racing_another_writer_falls_back_to_the_upsert(postgres_engine, monkeypatch):
    import importlib

    from finhub.storage import bulk_upsert_prices
    from finhub.storage.prices import BULK_ROWS

    prices_module = importlib.import_module("finhub.storage.prices")

    start = NOW - timedelta(days=3)
    rows = [bar("MSFT", "5m", start + timedelta(minutes=5 * m), 10.0 + m) for m in range(BULK_ROWS)]
    assert bulk_upsert_prices(postgres_engine, rows) == BULK_ROWS                  # a fresh range: plain insert
    assert rows_of(postgres_engine, "5m") == BULK_ROWS
    # Another writer stored some of the range after the check saw none: the plain insert fails on the
    # unique key, and the upsert stores the batch instead.
    monkeypatch.setattr(prices_module, "_STORED_IN_RANGE", "SELECT false")
    again = [dict(r, price=r["price"] + 1000) for r in rows] + [bar("MSFT", "5m", start - timedelta(minutes=5))]
    assert bulk_upsert_prices(postgres_engine, again) == BULK_ROWS + 1
    assert rows_of(postgres_engine, "5m") == BULK_ROWS + 1
    with postgres_engine.connect() as c:
        assert c.execute(select(func.min(prices.c.price)).where(prices.c.timestamp >= start)).scalar() == 1010.0
