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
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from finhub.calendar import bar_starts, missing, session_close
from finhub.logs import get_logger
from finhub.model import BAR_PERIOD, EXCHANGE_TZ, Asset, AssetType, Observation
from finhub.planner.fallback import Fetched, fetch_quotes
from finhub.planner.quota import Purpose
from finhub.runtime.context import Context
from finhub.storage import (
    BarStats,
    bar_stats,
    bar_times,
    bars_written_before,
    bulk_upsert_prices,
    ex_date_start,
    store_actions,
)
from providers.base import CorporateAction, FixRequest, Provider, Quotes, Reach

log = get_logger(__name__)

#: How far back the history job keeps a (symbol, interval) complete, catching up after downtime
#: (never beyond the interval's retention): a day less than the first provider reaches back (Yahoo's
#: intraday bars, CoinGecko's 365 days of daily points).
DEFAULT_LOOKBACK = {"1m": timedelta(days=29), **dict.fromkeys(("2m", "5m", "15m", "30m", "90m"), timedelta(days=59)),
                    "1h": timedelta(days=30), "1d": timedelta(days=364), "1wk": timedelta(days=5 * 365)}
#: A bar this close to a provider's lookback counts as out of its reach: the call arrives a little
#: after it was planned, and the provider measures its reach from then.
REACH_MARGIN = timedelta(hours=1)


@dataclass(frozen=True)
class Task:
    """One history call's worth: bars of ``interval`` for ``symbol`` in [start, end), sized for
    ``provider``'s reach (asked first; None: the chain's first)."""

    symbol: str
    interval: str
    start: datetime
    end: datetime
    provider: str | None = None
    refetch: bool = False   # fetching again bars a new split or dividend made stale


@dataclass(frozen=True)
class Unservable:
    """Bars of a range no provider of the chain can fetch (beyond every provider's reach)."""

    symbol: str
    interval: str
    start: datetime
    end: datetime
    why: str

    def line(self) -> str:
        return f"{self.why}: {self.start:%Y-%m-%d %H:%M}..{self.end:%Y-%m-%d %H:%M} cannot be fetched"


@dataclass
class Plan:
    """The calls that bring a set of (symbol, interval) up to date, and what none can serve."""

    tasks: list[Task] = field(default_factory=list)
    unservable: list[Unservable] = field(default_factory=list)


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
    """The calls that bring ``assets``' bars of ``interval`` in [start, end) up to date (see :func:`plan_calls`)."""
    return plan_calls(ctx, assets, interval, start, end, force, now).tasks


def plan_calls(ctx: Context, assets: Sequence[Asset], interval: str, start: datetime | None = None,
               end: datetime | None = None, force: bool = False, now: datetime | None = None) -> Plan:
    """The calls that bring ``assets``' bars of ``interval`` in [start, end) up to date, each sized
    for the provider that can serve it, and the bars no provider of the chain reaches.

    Without ``start`` (the scheduled job) the range reaches back :data:`DEFAULT_LOOKBACK`, or the
    interval's retention when that is shorter.
    """
    now = now or datetime.now(UTC)
    end = min(end or now, now)
    begin = start or now - min(DEFAULT_LOOKBACK[interval], timedelta(days=ctx.settings.retention_for(interval)))
    result = Plan()
    if begin >= end:
        return result
    for asset in assets:
        expected = bar_starts(asset, interval, begin, end, ctx.settings.history.prepost)
        # Counted from the first expected bar: a crypto bar stamped inside the period begin falls in is not one.
        counted_from = datetime.fromtimestamp(expected[0], UTC) if expected else begin
        stored = bar_stats(ctx.engine, asset.symbol, interval, counted_from, end)
        absent = absent_bars(ctx.redis, asset.symbol, interval, begin, end)
        task = plan_task(asset, interval, begin, end, expected, stored, absent, force)
        if task is not None:
            fit(ctx, asset, task, expected, stored, absent, force, now, result)
        stale = ctx.redis.hget(STALE_KEY.format(symbol=asset.symbol), interval)
        if stale:
            first, until = (datetime.fromtimestamp(float(t), UTC) for t in str(stale).split(":"))
            refetch(ctx, asset, interval, first, until, now, result)
    return result


#: Stored adjusted bars a new split or dividend made stale, per symbol: interval -> "first:end" (POSIX
#: seconds), until fetched again (kept in Redis so an interrupted refetch is resumed by the next plan).
STALE_KEY = "finhub:history:stale:{symbol}"


def refetch(ctx: Context, asset: Asset, interval: str, first: datetime, until: datetime, now: datetime,
            into: Plan) -> None:
    """Add to ``into`` the calls fetching ``asset``'s bars of ``interval`` in [first, until) again."""
    expected = bar_starts(asset, interval, first, until, ctx.settings.history.prepost)
    before = len(into.tasks)
    fit(ctx, asset, Task(asset.symbol, interval, first, until), expected, BarStats(0, None, None), [], True, now,
        into)
    into.tasks[before:] = [replace(t, refetch=True) for t in into.tasks[before:]]


def stale_bars(ctx: Context, symbol: str, actions: Sequence[CorporateAction], since: datetime) -> Plan:
    """The calls that fetch again ``symbol``'s stored bars that the newly learned ``actions`` made
    stale, so the stored series has no step at the ex-date.

    A split changes every earlier bar (Yahoo's close is split-adjusted, adjusted or not); a dividend
    changes them when ``history.adjusted``. Only bars written before ``since`` (when the answer that
    carried the actions was asked for) are stale: the ones it brought are adjusted already.
    """
    relevant = [a for a in actions if a.kind == "split" or ctx.settings.history.adjusted]
    result = Plan()
    if not relevant:
        return result
    ex_date = ex_date_start(max(a.day for a in relevant))
    asset, now = ctx.universe[symbol], datetime.now(UTC)
    for interval, (first, last) in bars_written_before(ctx.engine, symbol, ex_date, since).items():
        until = min(last + BAR_PERIOD[interval], ex_date)
        ctx.redis.hset(STALE_KEY.format(symbol=symbol), interval, f"{first.timestamp()}:{until.timestamp()}")
        refetch(ctx, asset, interval, first, until, now, result)
    log.info("new split or dividend: fetching stored bars before it again", symbol=symbol,
             actions=[f"{a.day} {a.kind} {a.value:g}" for a in relevant], calls=len(result.tasks))
    return result


def serving(ctx: Context, asset: Asset, interval: str) -> list[tuple[str, Reach]]:
    """The providers of ``asset``'s history chain that serve ``interval``, in order, with their reach."""
    found = []
    for name in chain_for(ctx, asset):
        provider = ctx.providers.get(name)
        reach = provider.reach(asset, interval) if provider is not None else None
        if reach is not None:
            found.append((name, reach))
    return found


def fit(ctx: Context, asset: Asset, task: Task, expected: Sequence[float], stored: BarStats,
        absent: Sequence[float], force: bool, now: datetime, into: Plan) -> None:
    """Add to ``into`` the fewest calls that serve ``task`` within its providers' reach, and what
    lies beyond every provider's reach."""
    providers = serving(ctx, asset, task.interval)
    if not providers:
        into.unservable.append(Unservable(task.symbol, task.interval, task.start, task.end,
                                          f"no provider of the history chain serves {task.interval} bars"))
        return
    name, reach = providers[0]
    if reach.span is None and reach.month_zone is None and _reaches(reach, task.start, now):
        into.tasks.append(replace(task, provider=name))  # the whole range in one call, as planned
        return
    lo, hi = task.start.timestamp(), task.end.timestamp()
    first, last = bisect.bisect_left(expected, lo), bisect.bisect_left(expected, hi)
    in_range = list(expected[first:last])
    if force:
        needed = in_range
    else:
        have = [t.timestamp() for t in bar_times(ctx.engine, task.symbol, task.interval, task.start, task.end)]
        known = set(absent)
        needed = [t for t in missing(in_range, have) if t not in known]
        partial = stored.last is not None and task.start == stored.last and (
            stored.written is None or stored.written < bar_end(asset, task.interval, stored.last))
        if partial and lo in in_range:
            needed = sorted({lo, *needed})  # the last stored bar was written before it ended: fetched again
    period = BAR_PERIOD[task.interval].total_seconds()
    groups: dict[str, list[float]] = {}
    beyond: list[float] = []
    for t in needed:
        owner = next((n for n, r in providers if _reaches(r, datetime.fromtimestamp(t, UTC), now)), None)
        (groups.setdefault(owner, []) if owner else beyond).append(t)
    for owner, bars in groups.items():
        owner_reach = dict(providers)[owner]
        for a, b in windows(owner_reach, bars, period, hi):
            into.tasks.append(Task(task.symbol, task.interval, datetime.fromtimestamp(a, UTC),
                                   datetime.fromtimestamp(b, UTC), owner))
    if beyond:
        why = f"{task.interval} bars reach back {reach.lookback.days} days at {name}" if reach.lookback \
            else f"{task.interval} bars are beyond the reach of {', '.join(n for n, _ in providers)}"
        into.unservable.append(Unservable(task.symbol, task.interval, datetime.fromtimestamp(beyond[0], UTC),
                                          datetime.fromtimestamp(beyond[-1] + period, UTC), why))


def _reaches(reach: Reach, moment: datetime, now: datetime) -> bool:
    return reach.lookback is None or moment >= now - reach.lookback + REACH_MARGIN


def windows(reach: Reach, bars: Sequence[float], period: float, end: float) -> list[tuple[float, float]]:
    """The fewest calls [start, end) (POSIX seconds) covering the bar starts ``bars`` (ascending)
    within ``reach``: greedily, each call from the first bar not yet covered, as far as one call may
    reach (a span, the end of a calendar month, or the range's end ``end``). Greedy is optimal for
    covering points on a line with windows of one length."""
    calls: list[tuple[float, float]] = []
    i = 0
    while i < len(bars):
        start = bars[i]
        stop = min(end, start + reach.span.total_seconds()) if reach.span else end
        if reach.month_zone:
            stop = min(stop, _next_month(start, reach.month_zone))
        j = bisect.bisect_left(bars, stop, i)
        # A call ends after the last bar it serves when the range goes on: nothing past it is asked.
        calls.append((start, stop if j == len(bars) else min(stop, bars[j - 1] + period)))
        i = j
    return calls


def _next_month(t: float, zone: str) -> float:
    local = datetime.fromtimestamp(t, ZoneInfo(zone))
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return datetime(year, month, 1, tzinfo=ZoneInfo(zone)).timestamp()


def remember_absent(ctx: Context, task: Task) -> None:
    """After ``task`` was answered: keep the bars of its range that were final and are still not
    stored as absent, so the planner does not ask for them again on every run."""
    now = datetime.now(UTC)
    asset = ctx.universe[task.symbol]
    expected = bar_starts(asset, task.interval, task.start, task.end, ctx.settings.history.prepost)
    stored = [t.timestamp() for t in bar_times(ctx.engine, task.symbol, task.interval, task.start, task.end)]
    cut = min(task.end, now - BAR_PERIOD[task.interval])  # a bar that started a period ago has ended
    record_absent(ctx.redis, task.symbol, task.interval, task.start, cut,
                  [t for t in missing(expected, stored) if t < cut.timestamp()],
                  keep_from=now - timedelta(days=ctx.settings.retention_for(task.interval)))


def chain_for(ctx: Context, asset: Asset) -> list[str]:
    """The configured history chain for ``asset``'s type."""
    fallback = ctx.settings.fallback
    return fallback.stock_history if asset.asset_type == AssetType.STOCK else fallback.crypto_history


def _bars(task: Task, actions: list[CorporateAction]):
    """A fallback :data:`~finhub.planner.fallback.Call` fetching ``task``'s bars (one asset a call);
    the splits and dividends the answer carried go to ``actions``."""
    def call(provider: Provider, assets: list[Asset]) -> Quotes:
        (asset,) = assets
        try:
            bars, found = provider.history_and_actions(asset, task.interval, task.start, task.end)
        except FixRequest as exc:
            return Quotes(errors={asset.symbol: exc})
        except ValueError as exc:  # an interval or a range this provider does not serve: the next one may
            return Quotes(errors={asset.symbol: FixRequest(provider.name, f"{asset.symbol}: {exc}")})
        actions.extend(found)
        return Quotes(observations=bars)
    return call


def fetch_task(ctx: Context, task: Task, actions: list[CorporateAction] | None = None) -> Fetched:
    """``task``'s bars through the history chain (from the provider it was sized for, skipping the
    ones that do not serve its interval), every call reserved against the HISTORY budget."""
    asset = ctx.universe[task.symbol]
    chain = [name for name, _ in serving(ctx, asset, task.interval)]
    if task.provider in chain:
        chain = chain[chain.index(task.provider):]
    return fetch_quotes([asset], chain, ctx.providers, ctx.quotas, ctx.breakers,
                        Purpose.HISTORY, call=_bars(task, [] if actions is None else actions))


def run_tasks(ctx: Context, tasks: Sequence[Task]) -> Outcome:
    """Fetch and store every task, and the splits and dividends their answers carry (fetching again
    the stored bars a new one made stale); what cannot be served now comes back as pending."""
    outcome = Outcome()
    queue = deque(tasks)
    while queue:
        task = queue.popleft()
        since, actions = datetime.now(UTC), list[CorporateAction]()
        fetched = fetch_task(ctx, task, actions)
        if fetched.observations:
            stored = store_single_source(ctx, fetched.observations)
            outcome.rows[task.symbol] = outcome.rows.get(task.symbol, 0) + stored
            remember_absent(ctx, task)
            new = store_actions(ctx.engine, actions)
            if new:
                queue.extend(stale_bars(ctx, task.symbol, new, since).tasks)
            _answered(ctx, task, [*queue, *outcome.pending])
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
            _answered(ctx, task, [*queue, *outcome.pending])
    return outcome


def _answered(ctx: Context, task: Task, left: Sequence[Task]) -> None:
    """After a refetch of stale bars was answered: once none of its (symbol, interval) is left, they are fresh."""
    key = (task.symbol, task.interval)
    if task.refetch and not any(t.refetch and (t.symbol, t.interval) == key for t in left):
        ctx.redis.hdel(STALE_KEY.format(symbol=task.symbol), task.interval)


def store_single_source(ctx: Context, observations: Sequence[Observation]) -> int:
    """Store observations as single-source rows (history bars; idempotent on symbol, interval, market time)."""
    rows = [{"symbol": o.symbol, "asset_type": str(o.asset_type), "interval": o.interval,
             "timestamp": o.timestamp, "price": o.price, "open": o.open, "high": o.high, "low": o.low,
             "volume": o.volume, "market_cap": o.market_cap, "source": o.provider,
             "validation_status": "single_source", "sources": o.provider} for o in observations]
    return bulk_upsert_prices(ctx.engine, rows)


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
