"""Re-queues counted in Redis and summarised by the health job.

A message put back for later (a spent budget, an open breaker, a provider that failed) is an
expected condition: each one is logged at DEBUG by whoever re-queues it, and counted here per
``actor: reason``. The health job (every ``schedule.health`` seconds) takes the counts and logs one
INFO line summarising them, so a person sees that work waits and why without a line per message.
"""

from __future__ import annotations

import dramatiq

from finhub.logs import get_logger
from providers.base import RetryLater

#: Redis hash of re-queues since the last summary: ``actor: reason`` -> count.
REQUEUES_KEY = "finhub:requeues"

log = get_logger(__name__)


def count_requeue(redis, actor: str, reason: str, messages: int = 1) -> None:
    """Count ``messages`` re-queued by ``actor`` for ``reason`` (a short, fixed phrase)."""
    redis.hincrby(REQUEUES_KEY, f"{actor}: {reason}", messages)


def take_requeues(redis) -> dict[str, int]:
    """The counts since the last call, and start counting afresh (atomically)."""
    with redis.pipeline() as pipe:
        pipe.hgetall(REQUEUES_KEY)
        pipe.delete(REQUEUES_KEY)
        counts, _ = pipe.execute()
    return {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in counts.items()}


def summarise_requeues(redis, every: float) -> dict[str, int]:
    """Log one INFO line with the re-queues since the last summary (none: no line)."""
    counts = take_requeues(redis)
    if counts:
        log.info(f"re-queued in the last ~{every:g} s (waiting for budget or a provider)",
                 total=sum(counts.values()), by_reason=dict(sorted(counts.items())))
    return counts


class NotNow(RetryLater, dramatiq.Retry):
    """A provider's "retry later" error that dramatiq's worker does not log as a failure (it is a
    :class:`dramatiq.Retry`), still retried with backoff by finhub's ``retry_when`` (it is a
    :class:`RetryLater`): the attempt counts, and the last one dead-letters the message as usual."""

    def __init__(self, exc: RetryLater) -> None:
        RetryLater.__init__(self, exc.provider, exc.message, exc.retry_after)
        self.message = exc.message  # DramatiqError's __init__ set it to the whole text
        self.delay = None  # the Retries middleware's exponential backoff

    def __str__(self) -> str:
        return f"{self.provider}: {self.message}"


def retry_later(redis, actor: str, exc: RetryLater) -> NotNow:
    """An expected "not now" (a provider unreachable, every provider in the chain failing, a breaker
    open), counted for the summary and logged at DEBUG. Raise what this returns."""
    reason = f"{type(exc).__name__.lower()} ({exc.provider})"
    count_requeue(redis, actor, reason)
    log.debug("not served now, retried later with backoff", actor=actor, error=str(exc)[:300])
    return NotNow(exc)
