"""History bars: what to fetch per (symbol, interval), fetching it through the history chain within
the HISTORY budget, and storing it idempotently.

A range is planned from a count of its stored bars against the bars it should have (see
:mod:`finhub.calendar`; bars a provider was asked for and answered without count as served):

- a bar missing before the last stored one (the head, or a gap in the middle) fetches the whole
  range: every provider answers a range in one call, so calls, not bars, are what it costs, and
  finding the first missing bar would need the stored times, not a count;
- otherwise a last bar written before its period ended, or newer bars that may exist, resume from
  the last stored bar and fetch it again (it may have been partial when stored);
- otherwise the range is complete: no call.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from finhub.calendar import bar_starts, missing, session_close
from finhub.model import BAR_PERIOD, EXCHANGE_TZ, Asset, AssetType, Observation
from finhub.planner.fallback import Fetched, fetch_quotes
from finhub.planner.quota import Purpose
from finhub.runtime.context import Context
from finhub.storage import BarStats, bar_stats, bar_times, upsert_prices
from providers.base import FixRequest, Provider, Quotes

#: How far back the history job keeps a (symbol, interval) complete (never beyond ``retention_days``).
DEFAULT_LOOKBACK = {"1h": timedelta(days=30), "1d": timedelta(days=365), "1wk": timedelta(days=5 * 365)}


@dataclass(frozen=True)
class Task:
    """One history call's worth: bars of ``interval`` for ``symbol`` in [start, end)."""

    symbol: str
    interval: str
    start: datetime
    end: datetime


@dataclass
class Outcome:
    """What fetching a set of tasks did."""

    rows: dict[str, int] = field(default_factory=dict)          # symbol -> bars stored
    failed: dict[str, str] = field(default_factory=dict)        # symbol -> why no provider could serve it
    pending: list[Task] = field(default_factory=list)           # not served now (budget, breaker, failing)
    retry_after: float | None = None
    budget_spent: bool = False


#: Bars a provider answered without, per (symbol, interval): a sorted set of bar starts (POSIX seconds).
ABSENT_KEY = "finhub:history:absent:{symbol}:{interval}"


def bar_end(asset: Asset, interval: str, stamp: datetime) -> datetime:
    """When the bar starting at ``stamp`` is final (a stock's daily bar: at that session's close)."""
    if asset.asset_type == AssetType.STOCK and interval == "1d":
        close = session_close(stamp.astimezone(EXCHANGE_TZ).date())
        if close is not None:
            return close
    return stamp + BAR_PERIOD[interval]


def plan_task(asset: Asset, interval: str, start: datetime, end: datetime, expected: Sequence[float],
              stored: BarStats, absent: Sequence[float], force: bool = False) -> Task | None:
    """The fetch (symbol, interval) needs in [start, end), or None when it is complete.

    ``expected``: the bars that exist by now (:func:`finhub.calendar.bar_starts` up to the present);
    ``stored``: what is stored from the first of them on; ``absent``: expected bars a fetch was
    answered without (:func:`absent_bars`).
    """
    if force:
        return Task(asset.symbol, interval, start, end)
    last = stored.last.timestamp() if stored.last else float("-inf")
    through_last = bisect.bisect_right(expected, last)
    served_through_last = stored.bars + bisect.bisect_right(absent, last)
    if served_through_last < through_last:
        return Task(asset.symbol, interval, start, end)
    newer = len(expected) - through_last - (len(absent) - bisect.bisect_right(absent, last))
    if stored.last is None:
        return Task(asset.symbol, interval, start, end) if newer > 0 else None
    final = stored.written is not None and stored.written >= bar_end(asset, interval, stored.last)
    if final and newer <= 0:
        return None
    return Task(asset.symbol, interval, stored.last, end)


def plan(ctx: Context, assets: Sequence[Asset], interval: str, start: datetime | None = None,
         end: datetime | None = None, force: bool = False, now: datetime | None = None) -> list[Task]:
    """The tasks that bring ``assets``' bars of ``interval`` in [start, end) up to date.

    Without ``start`` (the daily job) the range reaches back :data:`DEFAULT_LOOKBACK`, or
    ``retention_days`` when that is shorter.
    """
    now = now or datetime.now(UTC)
    end = min(end or now, now)
    begin = start or now - min(DEFAULT_LOOKBACK[interval], timedelta(days=ctx.settings.retention_days))
    if begin >= end:
        return []
    tasks = []
    for asset in assets:
        expected = bar_starts(asset, interval, begin, end)
        # Counted from the first expected bar: a crypto bar stamped inside the period begin falls in is not one.
        counted_from = datetime.fromtimestamp(expected[0], UTC) if expected else begin
        task = plan_task(asset, interval, begin, end, expected,
                         bar_stats(ctx.engine, asset.symbol, interval, counted_from, end),
                         absent_bars(ctx.redis, asset.symbol, interval, begin, end), force)
        if task is not None:
            tasks.append(task)
    return tasks


def remember_absent(ctx: Context, task: Task) -> None:
    """After ``task`` was answered: keep the bars of its range that were final and are still not
    stored as absent, so the planner does not ask for them again on every run."""
    now = datetime.now(UTC)
    asset = ctx.universe[task.symbol]
    expected = bar_starts(asset, task.interval, task.start, task.end)
    stored = [t.timestamp() for t in bar_times(ctx.engine, task.symbol, task.interval, task.start, task.end)]
    cut = min(task.end, now - BAR_PERIOD[task.interval])  # a bar that started a period ago has ended
    record_absent(ctx.redis, task.symbol, task.interval, task.start, cut,
                  [t for t in missing(expected, stored) if t < cut.timestamp()],
                  keep_from=now - timedelta(days=ctx.settings.retention_days))


def chain_for(ctx: Context, asset: Asset) -> list[str]:
    """The configured history chain for ``asset``'s type."""
    fallback = ctx.settings.fallback
    return fallback.stock_history if asset.asset_type == AssetType.STOCK else fallback.crypto_history


def _bars(task: Task):
    """A fallback :data:`~finhub.planner.fallback.Call` fetching ``task``'s bars (one asset a call)."""
    def call(provider: Provider, assets: list[Asset]) -> Quotes:
        (asset,) = assets
        try:
            return Quotes(observations=provider.history(asset, task.interval, task.start, task.end))
        except FixRequest as exc:
            return Quotes(errors={asset.symbol: exc})
        except ValueError as exc:  # an interval this provider does not serve: the next one may
            return Quotes(errors={asset.symbol: FixRequest(provider.name, f"{asset.symbol}: {exc}")})
    return call


def fetch_task(ctx: Context, task: Task) -> Fetched:
    """``task``'s bars through the history chain, every call reserved against the HISTORY budget."""
    asset = ctx.universe[task.symbol]
    return fetch_quotes([asset], chain_for(ctx, asset), ctx.providers, ctx.quotas, ctx.breakers,
                        Purpose.HISTORY, call=_bars(task))


def run_tasks(ctx: Context, tasks: Sequence[Task]) -> Outcome:
    """Fetch and store every task; what cannot be served now comes back as pending."""
    outcome = Outcome()
    for task in tasks:
        fetched = fetch_task(ctx, task)
        if fetched.observations:
            stored = store_single_source(ctx, fetched.observations)
            outcome.rows[task.symbol] = outcome.rows.get(task.symbol, 0) + stored
            remember_absent(ctx, task)
            continue
        if fetched.pending:
            outcome.pending.append(task)
            outcome.budget_spent |= fetched.throttled
            if fetched.retry_after is not None:
                outcome.retry_after = min(outcome.retry_after or fetched.retry_after, fetched.retry_after)
            continue
        errors = fetched.rejected.get(task.symbol) or []
        if errors:
            outcome.failed[task.symbol] = "; ".join(str(e) for e in errors)[:300]
        else:  # answered with no bar in the range (a holiday week): nothing to store
            outcome.rows.setdefault(task.symbol, 0)
            remember_absent(ctx, task)
    return outcome


def store_single_source(ctx: Context, observations: Sequence[Observation]) -> int:
    """Store observations as single-source rows (history bars; idempotent on symbol, interval, market time)."""
    rows = [{"symbol": o.symbol, "asset_type": str(o.asset_type), "interval": o.interval,
             "timestamp": o.timestamp, "price": o.price, "open": o.open, "high": o.high, "low": o.low,
             "volume": o.volume, "market_cap": o.market_cap, "source": o.provider,
             "validation_status": "single_source", "sources": o.provider} for o in observations]
    return upsert_prices(ctx.engine, rows)


def record_absent(redis, symbol: str, interval: str, start: datetime, end: datetime, absent: Sequence[float],
                  keep_from: datetime) -> None:
    """Replace what is known absent of (symbol, interval) in [start, end) by ``absent`` (a fetch of that
    range was just answered), and forget bars before ``keep_from`` (retention deletes them anyway)."""
    key = ABSENT_KEY.format(symbol=symbol, interval=interval)
    with redis.pipeline() as pipe:
        pipe.zremrangebyscore(key, start.timestamp(), f"({end.timestamp()}")
        pipe.zremrangebyscore(key, "-inf", f"({keep_from.timestamp()}")
        if absent:
            pipe.zadd(key, {str(int(t)): t for t in absent})
        pipe.execute()


def absent_bars(redis, symbol: str, interval: str, start: datetime, end: datetime) -> list[float]:
    """Bar starts in [start, end) that a fetch of (symbol, interval) was answered without (ascending)."""
    key = ABSENT_KEY.format(symbol=symbol, interval=interval)
    return [score for _, score in redis.zrangebyscore(key, start.timestamp(), f"({end.timestamp()}",
                                                      withscores=True)]
