"""Housekeeping: retention clean-up and the health snapshot."""

from datetime import datetime

import dramatiq

from finhub import collect
from finhub.context import current
from finhub.quota import Reservation


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


@dramatiq.actor(queue_name="prices", max_age=30 * 60_000, max_retries=3)
def crypto_rankings(kind: str, snapshot_at: str) -> None:
    """Snapshot the top cryptos (``kind="top"``) or the trending list, stamped with its scheduled time."""
    ctx = current()
    stored = collect.snapshot_rankings(ctx, kind, datetime.fromisoformat(snapshot_at))
    if isinstance(stored, Reservation):
        crypto_rankings.send_with_options(args=(kind, snapshot_at), delay=int(stored.retry_after * 1000))
        collect.record_job(ctx, f"{kind}_cryptos", "deferred", f"quota: retry in {stored.retry_after:.0f}s")
        return
    collect.record_job(ctx, f"{kind}_cryptos", "ok", f"{stored} coins stored")
