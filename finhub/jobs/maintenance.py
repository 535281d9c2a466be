"""Housekeeping: the retention clean-up and the health snapshot of queues and breakers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from finhub.logs import get_logger
from finhub.runtime.context import Context
from finhub.runtime.health import queue_depths
from finhub.runtime.requeues import summarise_requeues
from finhub.storage import delete_older_than

log = get_logger(__name__)


def cleanup(ctx: Context, now: datetime | None = None) -> int:
    """Delete history older than the retention period, in bounded batches."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=ctx.settings.retention_days)
    return delete_older_than(ctx.engine, cutoff)


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
