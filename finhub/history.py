"""History bars: what to fetch per (symbol, interval), fetching it through the history chain within
the HISTORY budget, and storing it idempotently.

A fetch resumes from the last stored bar of the range and fetches that bar again (it may have been
partial when stored). A range is skipped only when it is complete: its first expected bar is stored,
its last stored bar was written after that bar's period ended, and no newer bar can exist yet. A
hole before the first stored bar (a backfill reaching further back than the daily job) fetches the
whole range: every provider answers a range in one call, so calls, not bars, are what it costs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pandas as pd

from finhub.collect import store_single_source
from finhub.context import Context
from finhub.fallback import Fetched, fetch_quotes
from finhub.market_hours import calendar, session_close
from finhub.quota import Purpose
from finhub.storage import bar_span, last_timestamp
from finhub.universe import Asset, AssetType
from providers.base import EXCHANGE_TZ, FixRequest, Provider, Quotes, day_start

#: How far back the history job reaches for a (symbol, interval) with nothing stored.
DEFAULT_LOOKBACK = {"1h": timedelta(days=30), "1d": timedelta(days=365), "1wk": timedelta(days=5 * 365)}
PERIOD = {"1h": timedelta(hours=1), "1d": timedelta(days=1), "1wk": timedelta(weeks=1)}
_TICK = timedelta(microseconds=1)


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


def next_bar(asset: Asset, interval: str, after: datetime) -> datetime:
    """The market time of the first bar of ``asset`` starting strictly after ``after``."""
    if asset.asset_type == AssetType.CRYPTO:
        base = pd.Timestamp(after).tz_convert("UTC")
        floor = {"1h": base.floor("h"), "1d": base.floor("D"),
                 "1wk": (base - pd.Timedelta(days=base.weekday())).floor("D")}[interval]
        return (floor + PERIOD[interval]).to_pydatetime()
    local = after.astimezone(EXCHANGE_TZ).date()
    if interval == "1wk":
        monday = local - timedelta(days=local.weekday())
        return day_start(monday + timedelta(weeks=1), AssetType.STOCK)
    cal = calendar()
    try:
        if interval == "1h":
            moment = pd.Timestamp(after + PERIOD["1h"]).tz_convert("UTC").floor("min")
            return (moment if cal.is_open_on_minute(moment) else cal.next_open(moment)).to_pydatetime()
        session = cal.next_session(cal.date_to_session(pd.Timestamp(local), "previous"))
        return day_start(session.date(), AssetType.STOCK)
    except ValueError:  # outside the calendar's ~20 years: assume a bar a period
        return after + PERIOD[interval]


def bar_end(asset: Asset, interval: str, stamp: datetime) -> datetime:
    """When the bar starting at ``stamp`` is final (a stock's daily bar: at that session's close)."""
    if asset.asset_type == AssetType.STOCK and interval == "1d":
        close = session_close(stamp.astimezone(EXCHANGE_TZ).date())
        if close is not None:
            return close
    return stamp + PERIOD[interval]


def plan_task(asset: Asset, interval: str, start: datetime, end: datetime, span, now: datetime,
              force: bool = False) -> Task | None:
    """The fetch (symbol, interval) needs in [start, end) given ``span`` (first, last, written) of
    what is stored there (see :func:`finhub.storage.bar_span`); None when it is complete."""
    first, last, written = span
    if force or last is None or next_bar(asset, interval, start - _TICK) < first:
        return Task(asset.symbol, interval, start, end)
    final = written is not None and written >= bar_end(asset, interval, last)
    if final and next_bar(asset, interval, last) >= min(end, now):
        return None
    return Task(asset.symbol, interval, last, end)


def plan(ctx: Context, assets: Sequence[Asset], interval: str, start: datetime | None = None,
         end: datetime | None = None, force: bool = False, now: datetime | None = None) -> list[Task]:
    """The tasks that bring ``assets``' bars of ``interval`` in [start, end) up to date.

    Without ``start`` each asset resumes from its last stored bar, or reaches back
    :data:`DEFAULT_LOOKBACK` when it has none (the daily job).
    """
    now = now or datetime.now(timezone.utc)
    end = min(end or now, now)
    tasks = []
    for asset in assets:
        begin = start
        if begin is None:
            begin = last_timestamp(ctx.engine, asset.symbol, interval) or now - DEFAULT_LOOKBACK[interval]
        if begin >= end:
            continue
        task = plan_task(asset, interval, begin, end, bar_span(ctx.engine, asset.symbol, interval, begin, end),
                         now, force)
        if task is not None:
            tasks.append(task)
    return tasks


def chain_for(ctx: Context, asset: Asset) -> list[str]:
    """The configured history chain for ``asset``'s type."""
    fallback = ctx.settings.fallback
    return fallback.stock_history if asset.asset_type == AssetType.STOCK else fallback.crypto_history


def _bars(task: Task):
    """A fallback :data:`~finhub.fallback.Call` fetching ``task``'s bars (one asset a call)."""
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
            outcome.rows[task.symbol] = outcome.rows.get(task.symbol, 0) + store_single_source(ctx, fetched.observations)
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
    return outcome
