"""How well checked the stored prices are: rows by validation status, and the quarantine's size."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import Engine, func, select

from finhub.storage.schema import prices, quarantine


def validation_counts(engine: Engine, since: datetime, interval: str = "quote") -> dict[str, Counter]:
    """Rows of ``interval`` written from ``since`` on, per asset type and validation status."""
    query = (select(prices.c.asset_type, prices.c.validation_status, func.count())
             .where(prices.c.interval == interval, prices.c.updated_at >= since)
             .group_by(prices.c.asset_type, prices.c.validation_status))
    counts: dict[str, Counter] = {}
    with engine.connect() as connection:
        for asset_type, status, n in connection.execute(query):
            counts.setdefault(asset_type, Counter())[status] = n
    return counts


def validated_share(counts: Counter) -> float | None:
    """The validated share of one asset type's stored rows (None without any)."""
    total = sum(counts.values())
    return counts["validated"] / total if total else None


def quarantine_count(engine: Engine, since: datetime | None = None) -> int:
    """Observations in the quarantine (rejected from ``since`` on, when given)."""
    query = select(func.count()).select_from(quarantine)
    if since is not None:
        query = query.where(quarantine.c.created_at >= since)
    with engine.connect() as connection:
        return int(connection.execute(query).scalar() or 0)
