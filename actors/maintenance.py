"""Housekeeping: retention clean-up and the health snapshot."""

import dramatiq

from finhub import collect
from finhub.context import current


@dramatiq.actor(queue_name="maintenance", max_retries=3)
def cleanup() -> None:
    ctx = current()
    deleted = collect.cleanup(ctx)
    collect.record_job(ctx, "cleanup", "ok", f"{deleted} rows older than {ctx.settings.retention_days} days deleted")


@dramatiq.actor(queue_name="maintenance", max_retries=0, max_age=5 * 60_000)
def health() -> None:
    ctx = current()
    snapshot = collect.health(ctx)
    open_breakers = [n for n, h in snapshot["breakers"].items() if h.state != "closed"]
    collect.record_job(ctx, "health", "ok" if not open_breakers else "partial",
                       f"breakers open: {', '.join(open_breakers)}" if open_breakers else "all providers closed")
