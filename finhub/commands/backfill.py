"""``python -m finhub backfill``: fetch history bars for a date range, resuming what is stored."""

from __future__ import annotations

import os
import re
import sys
import time
from datetime import UTC, date, datetime, timedelta

from finhub.jobs import backfill
from finhub.jobs.history import plan_calls
from finhub.model import BAR_INTERVALS
from finhub.runtime.context import Context
from finhub.runtime.health import live_consumers, queue_depths
from finhub.runtime.redis import resolve_redis_url

#: Longest a ``--sync`` backfill waits for the history budget before giving a symbol up.
MAX_SYNC_WAIT = 300.0
#: Seconds without a live worker on the history queue before backfill says so, and before it gives up.
NO_WORKER_HINT = 3.0
NO_WORKER_GIVE_UP = 30.0
PERIOD_UNITS = {"d": 1, "w": 7, "wk": 7, "mo": 30, "y": 365}


class UsageError(ValueError):
    """A bad argument; its message is the one line shown."""


def register(subparsers) -> None:
    parser = subparsers.add_parser("backfill", help="fetch history bars for a date range (resumes what is stored)")
    parser.add_argument("--symbols", help="comma-separated symbols, e.g. AAPL,BTC (default: the whole universe)")
    parser.add_argument("--start", help="first day, YYYY-MM-DD (UTC)")
    parser.add_argument("--end", help="last day included, YYYY-MM-DD (default: now)")
    parser.add_argument("--period", help="instead of --start: how far back from --end, e.g. 30d, 6mo, 1y (default 1y)")
    parser.add_argument("--interval", default="1d", help=f"bar interval: {', '.join(BAR_INTERVALS)} (default 1d)")
    parser.add_argument("--force", action="store_true", help="re-fetch ranges already stored")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and the budget check; call no provider")
    parser.add_argument("--sync", action="store_true", help="fetch in this process instead of enqueuing to workers")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the workers (default 3600)")
    parser.set_defaults(func=run)


def _day(value: str, option: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
    except ValueError:
        raise UsageError(f"{option} must be a date YYYY-MM-DD, got {value!r}") from None


def parse_range(args, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) from ``--start``/``--end``/``--period`` (``--end`` is the last day included)."""
    end = _day(args.end, "--end") + timedelta(days=1) if args.end else now
    if args.start and args.period:
        raise UsageError("give --start or --period, not both")
    if args.start:
        start = _day(args.start, "--start")
    else:
        match = re.fullmatch(r"(\d+)(d|wk|w|mo|y)", args.period or "1y")
        if not match or int(match[1]) == 0:
            raise UsageError(f"--period must be a count and a unit (d, w, mo, y), e.g. 30d or 1y, got {args.period!r}")
        start = end - timedelta(days=int(match[1]) * PERIOD_UNITS[match[2]])
    if start >= min(end, now):
        raise UsageError(f"the range is empty: start {start.date()} is not before end {min(end, now).date()}")
    return start, end


def _assets(ctx: Context, symbols: str | None):
    if symbols is None:
        return [a for a in ctx.universe if a.active]
    names = [s.strip().upper() for s in symbols.split(",") if s.strip()]
    if not names:
        raise UsageError("--symbols is empty")
    try:
        assets = ctx.universe.select(names)
    except KeyError as exc:
        raise UsageError(f"{exc.args[0]} (see `python -m finhub universe`)") from None
    inactive = [a.symbol for a in assets if not a.active]
    if inactive:
        raise UsageError(f"not active (delisted or disabled): {', '.join(inactive)}")
    return assets


def run(args, settings) -> int:
    try:
        if args.interval not in BAR_INTERVALS:
            raise UsageError(f"--interval must be one of {', '.join(BAR_INTERVALS)}, got {args.interval!r}")
        if args.timeout <= 0:
            raise UsageError("--timeout must be positive")
        now = datetime.now(UTC)
        start, end = parse_range(args, now)
        ctx = Context(settings, resolve_redis_url(settings))
        assets = _assets(ctx, args.symbols)
    except (UsageError, RuntimeError) as exc:
        print(f"finhub backfill: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        return _dry_run(ctx, args.interval, start, end, assets, plan_calls(ctx, assets, args.interval, start, end,
                                                                           args.force, now))
    symbols = [a.symbol for a in assets]
    run_id = backfill.start_progress(ctx.redis, symbols)
    began = time.monotonic()
    if args.sync:
        _sync(ctx, symbols, args.interval, start, end, args.force, run_id)
        finished = True
    else:
        finished = _enqueue_and_wait(ctx, symbols, args.interval, start, end, args.force, run_id, args.timeout)
    return _summary(ctx, run_id, args.interval, start, end, time.monotonic() - began, finished)


def _dry_run(ctx: Context, interval: str, start: datetime, end: datetime, assets, planned) -> int:
    print(f"backfill plan: {interval} bars from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC "
          f"({len(assets)} symbols)")
    tasks = planned.tasks
    for asset in assets:
        own = [t for t in tasks if t.symbol == asset.symbol]
        beyond = [u for u in planned.unservable if u.symbol == asset.symbol]
        if not own and not beyond:
            print(f"  {asset.symbol:10} complete: no call")
        elif len(own) == 1:
            task = own[0]
            what = "the whole range" if task.start == start else "resumes at the last stored bar"
            print(f"  {asset.symbol:10} {task.start:%Y-%m-%d %H:%M} -> {task.end:%Y-%m-%d %H:%M}  1 call ({what})")
        elif own:
            print(f"  {asset.symbol:10} {own[0].start:%Y-%m-%d %H:%M} -> {own[-1].end:%Y-%m-%d %H:%M}  "
                  f"{len(own)} calls (what is missing, within {own[0].provider}'s reach)")
        for unservable in beyond:
            print(f"  {asset.symbol:10} NOT SERVABLE: {unservable.line()}")
    calls = backfill.calls_by_provider(ctx, tasks)
    print(f"calls: {len(tasks)}" + (f" ({', '.join(f'{p} {n}' for p, n in calls.items())})" if calls else ""))
    verdicts = [backfill.budget_verdict(ctx.quotas, provider, n) for provider, n in calls.items()]
    for _, line in verdicts:
        print(f"  {line}")
    print("verdict: " + ("fits the history budget now" if all(fits for fits, _ in verdicts)
                         else "does NOT fit the history budget now: it will wait for the quota windows"))
    if planned.unservable:
        print(f"not servable: {len(planned.unservable)} ranges (see above); no provider of the chain reaches them")
    print("dry run: no provider was called")
    return 0


def _sync(ctx: Context, symbols, interval, start, end, force, run_id) -> None:
    """Fetch symbol by symbol in this process, waiting up to MAX_SYNC_WAIT a symbol for the history
    budget or a failing chain."""
    for symbol in symbols:
        waited = 0.0
        while True:
            outcome = backfill.history_run(ctx, [symbol], interval, start, end, force, run_id)
            if not outcome.pending:
                break
            wait = outcome.retry_after or 30.0
            if waited + wait > MAX_SYNC_WAIT:
                why = "history budget spent" if outcome.budget_spent else "no provider of the chain answers"
                backfill.record(ctx.redis, run_id, symbol, failed=f"{why}; retry in {wait:.0f} s")
                break
            time.sleep(wait)
            waited += wait
        _show(backfill.read_progress(ctx.redis, run_id))


def _enqueue_and_wait(ctx: Context, symbols, interval, start, end, force, run_id, timeout: float) -> bool:
    """One message a symbol to the workers' history queue; show the progress until they are done."""
    if os.environ.get("FINHUB_REDIS_URL") is None:
        os.environ["FINHUB_REDIS_URL"] = ctx.redis_url  # the broker must use the Redis resolved here
    import actors

    for symbol in symbols:
        actors.history_bars.send([symbol], interval, start.isoformat(), end.isoformat(), force, run_id)
    began = time.monotonic()
    deadline, idle, unserved, hinted = began + timeout, 0, began, False
    while time.monotonic() < deadline:
        progress = backfill.read_progress(ctx.redis, run_id)
        _show(progress)
        if progress.finished:
            return True
        if live_consumers(ctx.redis, ["history"])["history"]:
            unserved = time.monotonic()
        elif time.monotonic() - unserved >= NO_WORKER_HINT and not hinted:
            hinted = True
            print("\nfinhub backfill: no live worker consumes the history queue: start the workers "
                  "(./scripts/run, or `dramatiq actors`), or run again with --sync to fetch in this process",
                  file=sys.stderr, flush=True)
        elif time.monotonic() - unserved >= NO_WORKER_GIVE_UP:
            print(f"finhub backfill: still no worker after {NO_WORKER_GIVE_UP:.0f} s: giving up waiting; the "
                  "messages stay queued for the next worker (or use --sync)", file=sys.stderr, flush=True)
            return False
        depth = queue_depths(ctx.redis, ["history"])["history"]
        idle = idle + 1 if not any(depth[k] for k in ("waiting", "delayed", "in_flight")) else 0
        if idle >= 10:  # the queue drained without finishing: those messages died
            for symbol in set(symbols) - set(ctx.redis.smembers(f"{backfill.PROGRESS_KEY.format(run=run_id)}:done")):
                backfill.record(ctx.redis, run_id, symbol, failed="its message failed on the workers (dead-lettered)")
            return True
        time.sleep(0.5)
    return False


def _show(progress: backfill.Progress) -> None:
    """A one-line progress bar, redrawn in place, on a terminal only."""
    if not sys.stdout.isatty():
        return
    width = 30
    filled = int(width * progress.done / max(progress.total, 1))
    eta = progress.eta()
    print(f"\r[{'#' * filled}{'-' * (width - filled)}] {progress.done}/{progress.total} symbols, "
          f"{progress.rows:,} rows, ETA {'?' if eta is None else f'{eta:.0f} s'}   ", end="", flush=True)


def _summary(ctx: Context, run_id: str, interval: str, start, end, elapsed: float, finished: bool) -> int:
    progress = backfill.read_progress(ctx.redis, run_id)
    if sys.stdout.isatty():
        print()
    print(f"backfill {interval} {start:%Y-%m-%d} -> {end:%Y-%m-%d}: {progress.done}/{progress.total} symbols done, "
          f"{progress.rows:,} rows stored in {elapsed:.1f} s")
    if not finished:
        print(f"timed out waiting: {progress.total - progress.done} symbols still queued on the workers")
    for symbol, line in sorted(progress.unservable.items()):
        print(f"not servable: {symbol}: {line}")
    if progress.failed:
        print(f"failed ({len(progress.failed)}): {', '.join(sorted(progress.failed))}")
        for symbol, reason in sorted(progress.failed.items()):
            print(f"  {symbol}: {reason}")
    return 0 if finished and not progress.failed else 1
