"""Backfills: run history tasks for a set of symbols, keep the progress in Redis (so the command can
show what workers do), and judge a plan against the HISTORY budget before any call is made."""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from finhub.jobs.aggregation import aggregate
from finhub.jobs.history import Outcome, Task, chain_for, plan_calls, run_tasks
from finhub.logs import get_logger
from finhub.planner.quota import Purpose, Quotas
from finhub.runtime.context import Context
from finhub.runtime.health import record_job
from finhub.runtime.requeues import count_requeue
from providers.base import Unavailable

log = get_logger(__name__)

#: Redis key of a backfill's progress (a hash, and a set of the symbols done).
PROGRESS_KEY = "finhub:backfill:{run}"
#: Progress is kept this long after the last update, in seconds.
PROGRESS_TTL = 7 * 86400


@dataclass
class Progress:
    """A backfill's state as stored in Redis."""

    total: int
    done: int
    rows: int
    started: float
    failed: dict[str, str] = field(default_factory=dict)
    unservable: dict[str, str] = field(default_factory=dict)    # symbol -> the range no provider reaches

    @property
    def finished(self) -> bool:
        return self.done >= self.total

    def eta(self, now: float | None = None) -> float | None:
        """Seconds left at the pace so far (None before the first symbol is done)."""
        if not self.done:
            return None
        elapsed = (now or time.time()) - self.started
        return elapsed / self.done * (self.total - self.done)


def start_progress(redis, symbols: Sequence[str]) -> str:
    """A new backfill run over ``symbols``; returns its id."""
    run = uuid.uuid4().hex[:12]
    key = PROGRESS_KEY.format(run=run)
    redis.hset(key, mapping={"total": len(symbols), "started": time.time()})
    redis.expire(key, PROGRESS_TTL)
    return run


def record(redis, run: str | None, symbol: str, rows: int = 0, failed: str | None = None) -> None:
    """Mark ``symbol`` done in ``run`` (idempotent: a redelivered message counts once)."""
    if run is None:
        return
    key = PROGRESS_KEY.format(run=run)
    with redis.pipeline() as pipe:
        pipe.hset(key, f"rows:{symbol}", rows)
        if failed is not None:
            pipe.hset(key, f"failed:{symbol}", failed)
        pipe.sadd(f"{key}:done", symbol)
        pipe.expire(key, PROGRESS_TTL)
        pipe.expire(f"{key}:done", PROGRESS_TTL)
        pipe.execute()


def read_progress(redis, run: str) -> Progress:
    key = PROGRESS_KEY.format(run=run)
    fields = redis.hgetall(key)
    return Progress(total=int(fields.get("total", 0)), done=redis.scard(f"{key}:done"),
                    rows=sum(int(v) for k, v in fields.items() if k.startswith("rows:")),
                    started=float(fields.get("started", time.time())),
                    failed={k.removeprefix("failed:"): v for k, v in fields.items() if k.startswith("failed:")},
                    unservable={k.removeprefix("unservable:"): v for k, v in fields.items()
                                if k.startswith("unservable:")})


def history_run(ctx: Context, symbols: Sequence[str], interval: str, start: datetime | None,
                end: datetime | None, force: bool = False, run: str | None = None) -> Outcome:
    """Plan, fetch and store ``symbols``' bars; every symbol not left pending is recorded in ``run``."""
    planned = plan_calls(ctx, ctx.universe.select(list(symbols)), interval, start, end, force)
    tasks = planned.tasks
    outcome = run_tasks(ctx, tasks)
    if run is not None and planned.unservable:
        ctx.redis.hset(PROGRESS_KEY.format(run=run),
                       mapping={f"unservable:{u.symbol}": u.line() for u in planned.unservable})
    for task in tasks:
        if outcome.rows.get(task.symbol) and interval != "1wk":  # new days: their levels and pivots
            aggregate(ctx.engine, [ctx.universe[task.symbol]], task.start)
    pending = {t.symbol for t in outcome.pending}
    for symbol in symbols:
        if symbol not in pending:
            record(ctx.redis, run, symbol, outcome.rows.get(symbol, 0), outcome.failed.get(symbol))
    return outcome


# --- the plan against the budget ------------------------------------------------------------------

def calls_by_provider(ctx: Context, tasks: Sequence[Task]) -> dict[str, int]:
    """History calls per provider if every task is served by the provider it was sized for (else the
    first provider of its chain)."""
    calls: dict[str, int] = {}
    for task in tasks:
        asset = ctx.universe[task.symbol]
        provider = task.provider or next((name for name in chain_for(ctx, asset)
                                          if name in ctx.providers and ctx.providers[name].supports(asset)), None)
        if provider is not None:
            calls[provider] = calls.get(provider, 0) + 1
    return calls


def budget_verdict(quotas: Quotas, provider: str, calls: int) -> tuple[bool, str]:
    """Whether ``calls`` history calls fit ``provider``'s HISTORY budget left now, and a line saying so.

    The windows (a minimum spacing is one: a call per spacing) and what is left in them are the
    reservations' own (:meth:`Quotas.room`): the plan fits when every call would be reserved now.
    """
    fits, waits, shares = True, [], []
    for room in quotas.room(provider, Purpose.HISTORY):
        shares.append(f"{room.left}/{room.limit} {room.window.replace('_', ' ')}")
        if calls > room.left:
            fits = False
            waits.append(math.ceil((calls - room.left) / room.limit) * room.seconds)
    line = (f"{provider}: {calls} calls; {'fits' if fits else 'does NOT fit'} the history budget left now "
            f"({', '.join(shares) or 'no limit'})")
    if waits:
        line += f"; the reservations spread it over ~{_duration(max(waits))}"
    return fits, line


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def history_message(ctx: Context, symbols: Sequence[str], interval: str, start: datetime | None,
                    end: datetime | None, force: bool = False, run: str | None = None) -> tuple[list[str], float]:
    """One ``history_bars`` message: run it, record the job, and return the symbols to send again
    with the seconds to wait (none: done). Raises :class:`Unavailable` when no provider could serve
    them for another reason than a spent budget, so the Retries middleware backs off."""
    outcome = history_run(ctx, symbols, interval, start, end, force, run)
    record_job(ctx.redis, "history", "ok" if not outcome.failed and not outcome.pending else "partial",
               f"{sum(outcome.rows.values())} bars, {len(outcome.pending)} pending, {len(outcome.failed)} failed")
    if not outcome.pending:
        return [], 0.0
    pending = [t.symbol for t in outcome.pending]
    if not outcome.budget_spent:
        raise Unavailable("history chain", f"no provider could serve {pending} now")
    delay = requeue_delay(ctx, pending, outcome.retry_after or 30)
    count_requeue(ctx.redis, "history_bars", "history budget spent")  # summarised by the health job
    log.debug("history budget reached, re-queued", symbols=pending, delay_s=round(delay, 1))
    return pending, delay


#: Longest a history message waits for its turn in the budget, in seconds.
MAX_REQUEUE_DELAY = 6 * 3600


def requeue_delay(ctx: Context, symbols: Sequence[str], retry_after: float) -> float:
    """When a history message refused by its budget is worth sending again.

    ``retry_after`` is the reservation's answer: when the blocking call leaves its window. Every
    other history message waiting on that budget got nearly the same answer, so waking them all
    then would let one through and re-queue the rest a second later (a polling loop). Instead each
    waits ``retry_after`` plus a random share of the time the budget needs to serve every waiting
    message: the delayed history messages times the seconds per call of the fastest provider of
    the chain (its binding HISTORY window, :meth:`Quotas.room`). Each message is so re-queued about
    once or twice per backlog, however long the backlog.
    """
    waiting = ctx.redis.hlen("dramatiq:history.DQ.msgs") + ctx.redis.llen("dramatiq:history")
    spacing = None
    for symbol in symbols:
        for name in chain_for(ctx, ctx.universe[symbol]):
            if name not in ctx.quotas.quotas:
                continue
            rooms = ctx.quotas.room(name, Purpose.HISTORY)
            per_call = max((r.seconds / r.limit for r in rooms), default=0.0)
            spacing = per_call if spacing is None else min(spacing, per_call)
    return min(MAX_REQUEUE_DELAY, retry_after + random.uniform(0, max(1, waiting) * (spacing or 0.0)))
