"""The history store: SQLAlchemy Core tables, migrated with Alembic, on SQLite or PostgreSQL.

Public API::

    engine = make_engine(settings.database)     # sqlite:///var/finhub.db or postgresql://...
    migrate(engine)                              # create/upgrade tables; safe from many processes
    is_outage(exc)                               # the database is unreachable now: retry later
    upsert_prices(engine, rows)                  # idempotent bulk upsert, one statement a batch
    bulk_upsert_prices(engine, rows)             # the same for backfills: COPY into staging + one INSERT (PostgreSQL)
    latest_prices(engine, "quote")               # {symbol: row} newest row per symbol, from assets_latestprice
    refresh_latest(engine)                       # re-copy the newest rows after editing the history by hand
    delete_older_than(engine, cutoff)            # retention in bounded batches
    quarantine_rows(engine, rows); recent_quarantined(engine)
    store_judged(engine, price_rows, quarantined)   # validation's verdicts in one transaction
    single_source_rows(engine, since)            # what the validation sweep re-examines
    summary(engine)                              # {asset_type: (rows, newest)} for status
    store_snapshot(engine, "top"|"trending", at, coins); latest_snapshot(engine, kind)
    bar_stats(engine, "AAPL", "1d", start, end)  # stored bars in a range: count, last, when written (history plans)
    bar_times(engine, "AAPL", "1d", start, end)  # their market times
    upsert_levels(engine, "AAPL", "stock", levels); stored_levels(engine, "AAPL")   # daily levels, pivots
    store_actions(engine, actions); stored_actions(engine, "AAPL")   # splits and dividends (new ones returned)
    bars_written_before(engine, "AAPL", ex_date, since)   # stored bars a new action made stale, per interval
"""

from finhub.storage.actions import bars_written_before, ex_date_start, store_actions, stored_actions
from finhub.storage.engine import is_outage, make_engine, migrate
from finhub.storage.judged import store_judged
from finhub.storage.levels import levels_stored, prices_since, stored_levels, upsert_levels
from finhub.storage.prices import (
                                   BarStats,
                                   bar_stats,
                                   bar_times,
                                   bulk_upsert_prices,
                                   check_row,
                                   delete_older_than,
                                   latest_prices,
                                   refresh_latest,
                                   single_source_rows,
                                   summary,
                                   upsert_prices,
)
from finhub.storage.quarantine import quarantine_rows, recent_quarantined
from finhub.storage.rankings import latest_snapshot, store_snapshot
from finhub.storage.schema import latest, prices, quarantine

__all__ = [
    "make_engine", "migrate", "is_outage", "check_row", "upsert_prices", "latest_prices",
    "delete_older_than", "summary", "quarantine_rows", "recent_quarantined", "prices", "quarantine",
    "latest_snapshot", "store_snapshot", "BarStats", "bar_stats", "bar_times", "prices_since", "upsert_levels",
    "stored_levels", "levels_stored", "store_judged", "single_source_rows", "latest", "refresh_latest",
    "store_actions", "stored_actions", "bars_written_before", "ex_date_start", "bulk_upsert_prices",
]
