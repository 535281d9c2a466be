"""``python -m finhub status``: how fresh the stored quotes are, and a warning per asset without a fresh one."""

from datetime import UTC, datetime, timedelta

import pytest

from finhub.cli import main
from finhub.storage import upsert_prices
from finhub.universe import build_universe
from tests.redis_dbs import PLANNER_DB, flushed


@pytest.fixture
def redis_db(cli_database, monkeypatch):
    monkeypatch.setenv("FINHUB_REDIS_URL", f"redis://127.0.0.1:6379/{PLANNER_DB}")
    yield from flushed(PLANNER_DB)


def test_status_counts_fresh_quotes_and_names_each_asset_without_one(cli_database, redis_db, capsys):
    now = datetime.now(UTC).replace(microsecond=0)
    universe = build_universe()
    cryptos = [a.symbol for a in universe.cryptos]
    upsert_prices(cli_database, [
        {"symbol": s, "asset_type": "crypto", "interval": "quote", "price": 1.0, "source": "coingecko",
         "timestamp": now - timedelta(minutes=30 if s == "ETH" else 1)} for s in cryptos if s != "DOGE"])
    assert main(["status"]) == 1  # stale assets and no scheduler need attention
    out = capsys.readouterr().out
    active = [a for a in universe if a.active]
    warned = [line.split(":")[0].strip() for line in out.splitlines() if ": no fresh quote, " in line]
    assert f"  quotes: {len(active) - len(warned)} of {len(active)} active assets fresh" in out.splitlines()
    assert f"  universe: {len(universe.stocks)} stocks, {len(cryptos)} cryptos collected" in out.splitlines()
    assert {"ETH", "DOGE"} <= set(warned) and not set(warned) & (set(cryptos) - {"ETH", "DOGE"})
    assert "HES" not in warned  # delisted: its notice says so, it expects no quotes
    eth = (now - timedelta(minutes=30)).isoformat().replace("+00:00", "Z")
    assert f"  ETH: no fresh quote, the newest is from {eth}" in out
    assert "  DOGE: no fresh quote, none stored yet" in out
    attention = out.split("\nneeds attention\n", 1)[1].splitlines()
    assert f"  assets: {len(warned)} of {len(active)} active assets have no fresh quote" in \
        [line.split(" (")[0] for line in attention]
    assert "  scheduler: no driver holds the lease, nothing is scheduled (start start_background_jobs.py)" in attention


def test_status_shows_validated_share_quarantine_and_dropped_batches(cli_database, redis_db, capsys):
    import redis

    from finhub.jobs.quotes import SUPERSEDED_KEY
    from finhub.storage import quarantine_rows

    now = datetime.now(UTC).replace(microsecond=0)
    upsert_prices(cli_database, [
        {"symbol": s, "asset_type": "crypto", "interval": "quote", "price": 1.0, "source": "coingecko",
         "timestamp": now - timedelta(minutes=1), "validation_status": status, "sources": "coingecko,yahoo"}
        for s, status in (("BTC", "validated"), ("ETH", "validated"), ("SOL", "validated"), ("ADA", "single_source"))])
    upsert_prices(cli_database, [{"symbol": "AAPL", "asset_type": "stock", "interval": "quote", "price": 1.0,
                                  "source": "yahoo", "timestamp": now - timedelta(minutes=1)}])
    quarantine_rows(cli_database, [{"symbol": "DOGE", "asset_type": "crypto", "interval": "quote",
                                    "timestamp": now, "reason": "disagreement", "detail": "5 % apart",
                                    "observations": []}])
    redis.Redis(host="127.0.0.1", port=6379, db=PLANNER_DB).hset(SUPERSEDED_KEY, mapping={"stock": 3, "crypto": 1})
    assert main(["status"]) == 1  # no driver holds the scheduler lease here
    out = capsys.readouterr().out.split("\ndata quality\n")[1]
    assert "  crypto        4 quotes in the last hour, 75.0% validated" in out
    assert "  stock         1 quotes in the last hour, 0.0% validated" in out
    assert "  quarantine: 1 observations" in out
    assert "dropped for their next scheduled run: crypto 1, stock 3" in out
