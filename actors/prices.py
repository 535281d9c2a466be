"""Live quotes: fetch a batch through the fallback chain, then validate and store it."""

from datetime import datetime, timezone

import dramatiq

from finhub import collect, crosscheck
from finhub.context import current
from finhub.logs import get_logger
from finhub.universe import AssetType
from providers.base import Unavailable

log = get_logger(__name__)
#: A live-quote message older than this is dropped: the next scheduled run is fresher.
QUOTE_MAX_AGE_MS = 10 * 60_000
#: Longest a quote batch may run (its HTTP calls have their own, shorter timeouts).
QUOTE_TIME_LIMIT_MS = 120_000


def _quotes(actor, asset_type: AssetType, symbols: list[str], scheduled: str | None) -> None:
    ctx = current()
    # A batch sent by hand (or before scheduled runs were stamped) counts as scheduled now.
    scheduled_at = datetime.fromisoformat(scheduled) if scheduled else datetime.now(timezone.utc)
    fetched = collect.collect_quotes(ctx, asset_type, symbols)
    if fetched.observations:
        validate_and_store.send([collect.to_message(o) for o in fetched.observations])
    outcome = "ok" if not fetched.pending and not fetched.rejected else "partial"
    collect.record_job(ctx, actor.actor_name, outcome,
                       f"{len(fetched.observations)} quotes, {len(fetched.pending)} pending, "
                       f"{len(fetched.rejected)} rejected")
    if fetched.pending:
        pending = [a.symbol for a in fetched.pending]
        if fetched.throttled:
            # Budget spent or every slot busy: come back when there is room, without burning retries,
            # unless the next scheduled run comes first (a re-queued batch would only pile up behind it).
            delay = collect.requeue_delay(ctx.settings, asset_type, fetched, scheduled_at, datetime.now(timezone.utc))
            if delay is None:
                collect.drop_superseded(ctx, actor.actor_name, asset_type, pending, scheduled_at, fetched)
            else:
                actor.send_with_options(args=(pending, scheduled_at.isoformat()), delay=int(delay * 1000))
                log.info("quota reached, re-queued", actor=actor.actor_name, symbols=pending, delay_s=round(delay, 1))
        else:
            # Every provider failing: the Retries middleware backs off exponentially.
            raise Unavailable("+".join(fetched.skipped) or "chain", f"no provider could serve {pending}")


@dramatiq.actor(queue_name="prices", max_age=QUOTE_MAX_AGE_MS, time_limit=QUOTE_TIME_LIMIT_MS)
def stock_quotes(symbols: list[str], scheduled: str | None = None) -> None:
    """Quotes for ``symbols``; ``scheduled`` is when the driver's run sent them (ISO 8601, UTC)."""
    _quotes(stock_quotes, AssetType.STOCK, symbols, scheduled)


@dramatiq.actor(queue_name="prices", max_age=QUOTE_MAX_AGE_MS, time_limit=QUOTE_TIME_LIMIT_MS)
def crypto_quotes(symbols: list[str], scheduled: str | None = None) -> None:
    """Quotes for ``symbols``; ``scheduled`` is when the driver's run sent them (ISO 8601, UTC)."""
    _quotes(crypto_quotes, AssetType.CRYPTO, symbols, scheduled)


@dramatiq.actor(queue_name="validation", time_limit=QUOTE_TIME_LIMIT_MS)
def validate_and_store(observations: list[dict]) -> None:
    """Cross-check what the quote actors fetched, then store or quarantine it (see finhub.crosscheck)."""
    ctx = current()
    decisions = crosscheck.validate_batch(ctx, [collect.from_message(o) for o in observations])
    collect.record_job(ctx, "validate_and_store", "ok", crosscheck.counts(decisions))


@dramatiq.actor(queue_name="validation", max_retries=0, max_age=10 * 60_000, time_limit=QUOTE_TIME_LIMIT_MS)
def validation_sweep() -> None:
    """Give the last hour's single-source quotes a second look (the next sweep retries what fails)."""
    ctx = current()
    done = crosscheck.sweep(ctx)
    collect.record_job(ctx, "validation_sweep", "ok",
                       f"{done['examined']} single-source rows, {done['checked']} checked: {done['validated']} "
                       f"validated, {done['quarantined']} quarantined")
