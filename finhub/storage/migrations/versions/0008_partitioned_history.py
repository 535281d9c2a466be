"""The history partitioned on PostgreSQL: a list partition per interval, each range-partitioned by
month of market time (finhub.storage.partitions), so retention drops month partitions.

The existing table is renamed, a partitioned table is created LIKE it (whatever columns it has
by then), the partitions its rows need are created, and the rows are copied over in batches of
:data:`BATCH` by id, in this migration's transaction: writers wait for it (nothing is lost), and the
row counts must match before the old table is dropped. It logs its time per million rows: 8.4 s
per million (2M rows of 1m bars in 16.8 s on the 2-core development machine, docs/benchmarks.md).
SQLite keeps one table.

Revision ID: 0008_partitioned_history
Revises: 0007_corporate_actions
Create Date: 2026-12-06
"""
import time
from datetime import UTC, datetime

from alembic import op

from finhub.logs import get_logger
from finhub.model import INTERVALS
from finhub.storage.partitions import TABLE, create_partitions, forget, months_ahead

revision = "0008_partitioned_history"
down_revision = "0007_corporate_actions"
branch_labels = None
depends_on = None

OLD = f"{TABLE}_unpartitioned"
#: Rows copied per statement.
BATCH = 200_000
_KEY = "uq_prices_symbol_interval_timestamp"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    run = bind.exec_driver_sql
    if run(f"SELECT relkind FROM pg_class WHERE oid = to_regclass('{TABLE}')").scalar() == "p":
        return
    began = time.monotonic()
    sequence = run(f"SELECT pg_get_serial_sequence('{TABLE}', 'id')").scalar()
    run(f"ALTER TABLE {TABLE} RENAME TO {OLD}")
    run(f"ALTER TABLE {OLD} RENAME CONSTRAINT {_KEY} TO {_KEY}_old")
    run(f"ALTER TABLE {OLD} RENAME CONSTRAINT {TABLE}_pkey TO {OLD}_pkey")
    run("ALTER INDEX ix_prices_timestamp RENAME TO ix_prices_timestamp_old")
    run(f"CREATE TABLE {TABLE} (LIKE {OLD} INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING STORAGE) "
        "PARTITION BY LIST (interval)")
    # A partitioned table's keys include its partition keys: (symbol, interval, timestamp) already does.
    run(f'ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY (id, interval, "timestamp")')
    run(f'ALTER TABLE {TABLE} ADD CONSTRAINT {_KEY} UNIQUE (symbol, interval, "timestamp") '
        "INCLUDE (price, validation_status)")
    run(f'CREATE INDEX ix_prices_timestamp ON {TABLE} ("timestamp")')
    if sequence:
        run(f"ALTER SEQUENCE {sequence} OWNED BY {TABLE}.id")   # else dropping the old table drops it
    forget(bind.engine)   # what this process knew of another incarnation of the table
    months = run(f"SELECT DISTINCT interval, date_trunc('month', \"timestamp\" AT TIME ZONE 'UTC') FROM {OLD}").all()
    create_partitions(bind, [(i, m.date()) for i, m in months] +
                      [(i, m) for i in INTERVALS for m in months_ahead(datetime.now(UTC))])
    low, high = run(f"SELECT min(id), max(id) FROM {OLD}").one()
    copied = 0
    if low is not None:
        for first in range(low, high + 1, BATCH):
            copied += run(f"INSERT INTO {TABLE} SELECT * FROM {OLD} WHERE id >= {first} AND id < {first + BATCH}"
                          ).rowcount
    before = run(f"SELECT count(*) FROM {OLD}").scalar()
    if copied != before:
        raise RuntimeError(f"partitioning the history copied {copied} of {before} rows: nothing was changed")
    run(f"DROP TABLE {OLD}")
    seconds = time.monotonic() - began
    get_logger(__name__).info("history partitioned by interval and month", rows=copied, seconds=round(seconds, 1),
                              seconds_per_million_rows=round(seconds / max(copied, 1) * 1e6, 1))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    run = bind.exec_driver_sql
    sequence = run(f"SELECT pg_get_serial_sequence('{TABLE}', 'id')").scalar()
    run(f"CREATE TABLE {OLD} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING STORAGE)")
    run(f"INSERT INTO {OLD} SELECT * FROM {TABLE}")
    if sequence:
        run(f"ALTER SEQUENCE {sequence} OWNED BY {OLD}.id")
    run(f"DROP TABLE {TABLE}")
    forget(bind.engine)
    run(f"ALTER TABLE {OLD} RENAME TO {TABLE}")
    run(f"ALTER TABLE {TABLE} ADD PRIMARY KEY (id)")
    run(f'ALTER TABLE {TABLE} ADD CONSTRAINT {_KEY} UNIQUE (symbol, interval, "timestamp") '
        "INCLUDE (price, validation_status)")
    run(f'CREATE INDEX ix_prices_timestamp ON {TABLE} ("timestamp")')
