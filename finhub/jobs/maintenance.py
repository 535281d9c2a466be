"""Housekeeping: the retention clean-up and the health snapshot of queues and breakers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from finhub.logs import get_logger
from finhub.model import INTERVALS
from finhub.runtime.context import Context
from finhub.runtime.health import queue_depths
from finhub.runtime.requeues import summarise_requeues
from finhub.storage import delete_older_than, partitions
from finhub.storage.prices import DELETE_BATCH

log = get_logger(__name__)


def cleanup(ctx: Context, now: datetime | None = None, batch: int = DELETE_BATCH) -> int:
    """Delete history older than its interval's retention (``retention.<interval>``, else
    ``retention_days``); returns the rows deleted row by row.

    On a partitioned PostgreSQL history, the month partitions wholly past the retention are dropped
    first (no row by row delete), the rest of the boundary month is deleted in bounded batches, and
    the partitions of the months ahead are created. SQLite deletes in bounded batches.
    """
    now = now or datetime.now(UTC)
    deleted = 0
    for interval in INTERVALS:
        cutoff = now - timedelta(days=ctx.settings.retention_for(interval))
        dropped = partitions.drop_before(ctx.engine, interval, cutoff)
        if dropped:
            log.info("retention dropped partitions", interval=interval, partitions=dropped)
        deleted += delete_older_than(ctx.engine, cutoff, batch, interval)
    if created := partitions.create_ahead(ctx.engine, INTERVALS, now):
        log.info("partitions created ahead", partitions=created)
    return deleted


def health(ctx: Context) -> dict:
    """Queue depths and provider breakers, written to Redis for ``status``; logs the re-queue summary.

    An open breaker logged when it opened (finhub.planner.breaker): here it is DEBUG."""
    depths = queue_depths(ctx.redis)
    breakers = {name: ctx.breakers.health(name) for name in ctx.providers}
    for name, state in breakers.items():
        if state.state != "closed":
            log.debug("provider breaker not closed", provider=name, state=str(state.state),
                        retry_after=round(state.retry_after), last_error=state.last_error)
    summarise_requeues(ctx.redis, ctx.settings.schedule.health)
    return {"queues": depths, "breakers": breakers}
