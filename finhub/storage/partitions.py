"""The history's partitions on PostgreSQL: a list partition per interval, each range-partitioned by
month of market time (native declarative partitioning, no extension), so retention, which differs
per interval, drops whole month partitions instead of deleting rows. SQLite keeps one table.

    assets_assetpriceshistoric                    PARTITION BY LIST (interval)
      assets_assetpriceshistoric_1m               FOR VALUES IN ('1m') PARTITION BY RANGE ("timestamp")
        assets_assetpriceshistoric_1m_2026_12     FOR VALUES FROM ('2026-12-01 00:00Z') TO ('2027-01-01 00:00Z')

Partitions are created ahead by the maintenance job (:data:`MONTHS_AHEAD`), and for the months a
write needs before it writes (a backfill of an old year): a row without a partition would fail.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime

from sqlalchemy import Connection, Engine, text

TABLE = "assets_assetpriceshistoric"
#: Months the maintenance job creates ahead of the current one.
MONTHS_AHEAD = 2
#: PostgreSQL advisory lock key serialising the creation of partitions.
PARTITION_LOCK_KEY = 0x70617274   # "part"

#: engine -> the partitions this process knows exist (an engine is one database; its schema may be
#: set in its connect arguments, so the URL would not do)
_known: weakref.WeakKeyDictionary[Engine, set[str]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def is_partitioned(connection: Connection) -> bool:
    """Whether the history table is a partitioned table here (PostgreSQL after migration 0008)."""
    if connection.dialect.name != "postgresql":
        return False
    return connection.exec_driver_sql(
        f"SELECT c.relkind = 'p' FROM pg_class c WHERE c.oid = to_regclass('{TABLE}')").scalar() is True


def month_of(moment: datetime) -> date:
    moment = moment.astimezone(UTC)
    return date(moment.year, moment.month, 1)


def _next(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def partition_name(interval: str, month: date | None = None) -> str:
    """``assets_assetpriceshistoric_<interval>[_<YYYY>_<MM>]``."""
    return f"{TABLE}_{interval}" + (f"_{month:%Y_%m}" if month else "")


def create_partitions(connection: Connection, needed: Iterable[tuple[str, date]]) -> int:
    """Create the (interval, month) partitions of ``needed`` that do not exist; returns how many were created.
    Idempotent, and safe against another process creating the same one meanwhile."""
    created, locked = 0, False
    engine = connection.engine
    for interval, month in sorted(set(needed)):
        name = partition_name(interval, month)
        if name in _known.get(engine, set()):
            continue
        if not locked:  # writers creating the same partition at once: one at a time (IF NOT EXISTS races)
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PARTITION_LOCK_KEY})")
            locked = True
        parent = partition_name(interval)
        exists = connection.exec_driver_sql(
            "SELECT to_regclass(%(a)s) IS NOT NULL, to_regclass(%(b)s) IS NOT NULL", {"a": parent, "b": name}).one()
        if not exists[0]:
            connection.exec_driver_sql(
                f"CREATE TABLE IF NOT EXISTS {parent} PARTITION OF {TABLE} FOR VALUES IN ('{interval}') "
                f'PARTITION BY RANGE ("timestamp")')
        if not exists[1]:
            connection.exec_driver_sql(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {parent} FOR VALUES FROM "
                f"('{month.isoformat()} 00:00+00') TO ('{_next(month).isoformat()} 00:00+00')")
            created += 1
        with _lock:
            _known.setdefault(engine, set()).add(name)
    return created


def ensure_partitions(engine: Engine, rows: Iterable[Mapping]) -> None:
    """Before writing price ``rows``: create the partitions their (interval, month) need, in a
    transaction of its own (creating one locks its parent briefly). Nothing on SQLite."""
    if engine.dialect.name != "postgresql":
        return
    spans: dict[str, list[datetime]] = {}   # interval -> [first, last] market time: the months between
    for r in rows:
        moment, interval = r.get("timestamp"), r.get("interval")
        if not isinstance(moment, datetime) or moment.tzinfo is None or not interval:
            continue  # refused by the write's own checks
        span = spans.get(interval)
        if span is None:
            spans[interval] = [moment, moment]
        elif moment < span[0]:
            span[0] = moment
        elif moment > span[1]:
            span[1] = moment
    needed = {(interval, month) for interval, (first, last) in spans.items() for month in _months(first, last)}
    known = _known.get(engine, set())
    if all(partition_name(i, m) in known for i, m in needed):
        return
    with engine.begin() as connection:
        if is_partitioned(connection):
            create_partitions(connection, needed)


def _months(first: datetime, last: datetime) -> list[date]:
    months, month = [], month_of(first)
    while month <= month_of(last):
        months.append(month)
        month = _next(month)
    return months


def forget(engine: Engine) -> None:
    """Forget the partitions this process knows of (after another process dropped some)."""
    with _lock:
        _known.pop(engine, None)


def months_ahead(now: datetime) -> list[date]:
    """This month and the next :data:`MONTHS_AHEAD`."""
    months = [month_of(now)]
    for _ in range(MONTHS_AHEAD):
        months.append(_next(months[-1]))
    return months


def create_ahead(engine: Engine, intervals: Iterable[str], now: datetime | None = None) -> int:
    """The maintenance job's share: this month's and the next :data:`MONTHS_AHEAD` months' partitions
    of every interval; returns how many were created."""
    if engine.dialect.name != "postgresql":
        return 0
    with engine.begin() as connection:
        if not is_partitioned(connection):
            return 0
        months = months_ahead(now or datetime.now(UTC))
        return create_partitions(connection, [(i, m) for i in intervals for m in months])


def drop_before(engine: Engine, interval: str, cutoff: datetime) -> list[str]:
    """Drop ``interval``'s month partitions that end at or before ``cutoff`` (all their rows are
    older than the retention); returns their names. The rest of the boundary month is deleted row
    by row by the caller."""
    if engine.dialect.name != "postgresql":
        return []
    with engine.begin() as connection:
        if not is_partitioned(connection):
            return []
        names = connection.execute(text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:parent)"), {"parent": partition_name(interval)}).scalars().all()
        dropped = []
        for name in names:
            month = _month_in(name)
            if month is not None and datetime.combine(_next(month), datetime.min.time(), UTC) <= cutoff:
                connection.exec_driver_sql(f"DROP TABLE {name}")
                dropped.append(name)
    if dropped:
        forget(engine)
    return dropped


def _month_in(name: str) -> date | None:
    """The month a partition's name ends with (``_YYYY_MM``), or None."""
    try:
        year, month = name.rsplit("_", 2)[-2:]
        return date(int(year), int(month), 1)
    except ValueError:
        return None
