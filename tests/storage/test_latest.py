"""The copies of the newest rows (assets_latestprice) follow every write to the history, on both databases."""

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text

from finhub.storage import delete_older_than, latest, latest_prices, prices, refresh_latest, store_judged, upsert_prices
from tests.polling import wait_for

T0 = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)


def row(symbol="AAPL", minutes=0, price=100.0, interval="quote", **extra):
    return {"symbol": symbol, "asset_type": "stock", "interval": interval,
            "timestamp": T0 - timedelta(minutes=minutes), "price": price, "source": "yahoo", **extra}


def newest_in_history(engine) -> dict[tuple[str, str], dict]:
    """Each (symbol, interval)'s newest history row, found the slow way."""
    newest = select(prices.c.symbol, prices.c.interval, func.max(prices.c.timestamp).label("newest")).group_by(
        prices.c.symbol, prices.c.interval).subquery()
    query = select(*(prices.c[c.name] for c in latest.c)).join(newest, (prices.c.symbol == newest.c.symbol) & (
        prices.c.interval == newest.c.interval) & (prices.c.timestamp == newest.c.newest))
    with engine.connect() as c:
        return {(r["symbol"], r["interval"]): dict(r) for r in c.execute(query).mappings()}


def copies(engine) -> dict[tuple[str, str], dict]:
    with engine.connect() as c:
        return {(r["symbol"], r["interval"]): dict(r) for r in c.execute(select(latest)).mappings()}


def test_an_older_row_never_replaces_the_newest_and_a_newer_one_does(engine):
    upsert_prices(engine, [row("AAPL", 5, 105.0), row("AAPL", 0, 100.0), row("AAPL", 9, 109.0)])
    upsert_prices(engine, [row("AAPL", 60 * 24 * 300, 1.0, interval="1d")])
    upsert_prices(engine, [row("AAPL", 60, 160.0)])  # a late, older quote: history only
    assert latest_prices(engine)["AAPL"]["price"] == 100.0
    upsert_prices(engine, [row("AAPL", -1, 99.0), row("AAPL", 0, 101.0)])
    assert latest_prices(engine)["AAPL"]["price"] == 99.0
    assert latest_prices(engine, "1d")["AAPL"]["price"] == 1.0
    assert copies(engine) == newest_in_history(engine)


def test_the_last_of_same_moment_rows_in_one_batch_wins_in_both_tables(engine):
    upsert_prices(engine, [row("AAPL", 0, 1.0), row("AAPL", 1, 5.0), row("AAPL", 0, 2.0), row("AAPL", 1, 6.0)])
    assert latest_prices(engine)["AAPL"]["price"] == 2.0
    assert copies(engine) == newest_in_history(engine)


def test_retention_forgets_a_symbol_only_when_all_its_rows_are_gone(engine):
    upsert_prices(engine, [row("AAPL", m) for m in range(0, 50, 10)] + [row("DEAD", 60 * 24 * 400, 7.0)])
    assert set(latest_prices(engine)) == {"AAPL", "DEAD"}
    assert delete_older_than(engine, T0 - timedelta(days=365), batch=2) == 1
    assert set(latest_prices(engine)) == {"AAPL"}
    assert delete_older_than(engine, T0 - timedelta(minutes=25), batch=2) == 2
    assert latest_prices(engine)["AAPL"]["timestamp"] == T0
    assert copies(engine) == newest_in_history(engine)


def test_the_sweep_moving_the_newest_row_away_brings_back_the_one_before(engine):
    upsert_prices(engine, [row("AAPL", 1, 99.0), row("AAPL", 0, 150.0), row("MSFT", 0, 300.0)])
    moved = [{**row(symbol, 0), "reason": "disagreement", "detail": "", "observations": []}
             for symbol in ("AAPL", "MSFT")]
    store_judged(engine, [], moved, move=True)
    assert {s: r["price"] for s, r in latest_prices(engine).items()} == {"AAPL": 99.0}
    assert copies(engine) == newest_in_history(engine)


def test_refresh_after_the_history_was_edited_by_hand(engine):
    upsert_prices(engine, [row(s, m, 10.0 + m) for s in ("AAPL", "MSFT") for m in range(3)])
    with engine.begin() as c:
        c.execute(text("DELETE FROM assets_assetpriceshistoric WHERE symbol = 'MSFT' OR timestamp = :t"),
                  {"t": prices.c.timestamp.type.process_bind_param(T0, engine.dialect)})
    refresh_latest(engine, [("AAPL", "quote")])
    assert {s: r["price"] for s, r in latest_prices(engine).items()} == {"AAPL": 11.0, "MSFT": 10.0}
    refresh_latest(engine)
    assert {s: r["price"] for s, r in latest_prices(engine).items()} == {"AAPL": 11.0}
    assert copies(engine) == newest_in_history(engine)


def test_concurrent_writers_in_opposite_orders_keep_the_newest_without_deadlock(engine):
    symbols = [f"S{i:02d}" for i in range(20)]
    failures = []

    def write(minutes, order):
        try:
            for m in minutes:
                upsert_prices(engine, [row(s, m, 1000.0 - m) for s in order])
        except Exception as exc:  # reported below
            failures.append(exc)

    writers = [threading.Thread(target=write, args=(range(40, -1, -2), symbols)),
               threading.Thread(target=write, args=(range(41, 0, -2), symbols[::-1])),
               threading.Thread(target=write, args=(range(0, 41, 3), symbols[::2] + symbols[1::2]))]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    assert failures == []
    assert {s: r["price"] for s, r in latest_prices(engine).items()} == dict.fromkeys(symbols, 1000.0)
    assert copies(engine) == newest_in_history(engine)


def test_the_sweep_moving_rows_while_quotes_are_stored_cannot_deadlock(engine):
    symbols = [f"S{i:02d}" for i in range(12)]
    upsert_prices(engine, [row(s, 1000, 1.0) for s in symbols])
    failures = []

    def store_quotes():
        try:
            for m in range(999, 960, -1):
                upsert_prices(engine, [row(s, m, 2.0) for s in symbols])
        except Exception as exc:  # reported below
            failures.append(exc)

    def sweep():
        # Validates the later symbols' rows and moves the earlier ones' away: two passes over the copies.
        try:
            for m in range(999, 960, -1):
                moved = [{**row(s, m), "reason": "disagreement", "detail": "", "observations": []} for s in symbols[:6]]
                store_judged(engine, [row(s, m, 2.0, validation_status="validated") for s in symbols[6:]], moved,
                             move=True)
        except Exception as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=store_quotes), threading.Thread(target=sweep)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert copies(engine) == newest_in_history(engine)


#: Backends waiting, directly or through another waiter, for a lock the backend :pid holds.
_WAITING_BEHIND = text("""
    WITH RECURSIVE behind(pid) AS (
        SELECT pid FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))
        UNION
        SELECT a.pid FROM pg_stat_activity a JOIN behind b ON b.pid = ANY(pg_blocking_pids(a.pid)))
    SELECT count(*) FROM behind""")


def _parked(engine, holder, thread, waiting: int) -> bool:
    """Once ``thread`` is done or ``waiting`` backends queue behind ``holder``'s locks: the order of
    the writers is then set (polled, not slept for)."""
    pid = holder.execute(text("SELECT pg_backend_pid()")).scalar()

    def settled():
        with engine.connect() as c:
            return not thread.is_alive() or c.execute(_WAITING_BEHIND, {"pid": pid}).scalar() >= waiting
    return wait_for(settled, 10, step=0.02)


def _in_thread(target, failures):
    def run():
        try:
            target()
        except Exception as exc:  # reported by the test
            failures.append(exc)
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_locks_follow_the_writers_order_whatever_the_databases_collation(postgres_engine):
    engine = postgres_engine
    with engine.begin() as c:  # like glibc's en_US.UTF-8, which many servers use: BRKA sorts before BRK.B
        c.execute(text("CREATE COLLATION punctuation_last (provider = icu, locale = 'en-US-u-ka-shifted')"))
        c.execute(text("ALTER TABLE assets_latestprice ALTER COLUMN symbol TYPE varchar(20) COLLATE punctuation_last"))
    upsert_prices(engine, [row("BRK.B", 1, 1.0), row("BRKA", 1, 2.0)])
    failures = []
    with engine.connect() as holder, holder.begin():  # another writer, busy with BRKA
        holder.execute(text("SELECT 1 FROM assets_latestprice WHERE symbol = 'BRKA' FOR UPDATE"))
        moved = [{**row("BRK.B", 1), "reason": "disagreement", "detail": "", "observations": []}]
        sweep = _in_thread(lambda: store_judged(engine, [row("BRKA", 1, 2.0, validation_status="validated")], moved,
                                                move=True), failures)
        assert _parked(engine, holder, sweep, 1)
        quotes = _in_thread(lambda: upsert_prices(engine, [row("BRK.B", 0, 1.1), row("BRKA", 0, 2.1)]), failures)
        assert _parked(engine, holder, quotes, 2)
    sweep.join()
    quotes.join()
    assert failures == []
    assert copies(engine) == newest_in_history(engine)


def test_a_full_refresh_while_writers_store_new_symbols(postgres_engine):
    engine = postgres_engine
    upsert_prices(engine, [row("AAPL", 1)])
    failures = []
    with engine.connect() as holder, holder.begin():  # a writer in the middle of its transaction
        holder.execute(text("SELECT 1 FROM assets_latestprice WHERE symbol = 'AAPL' FOR UPDATE"))
        refresh = _in_thread(lambda: refresh_latest(engine), failures)
        assert _parked(engine, holder, refresh, 1)
        newcomer = _in_thread(lambda: upsert_prices(engine, [row("NVDA", 0, 2.0)]), failures)
        assert _parked(engine, holder, newcomer, 2)
    refresh.join()
    newcomer.join()
    assert failures == []
    assert set(latest_prices(engine)) == {"AAPL", "NVDA"}
    assert copies(engine) == newest_in_history(engine)
