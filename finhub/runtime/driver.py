"""The scheduler driver behind ``start_background_jobs.py``: it only enqueues messages.

APScheduler's BlockingScheduler fires the jobs of the schedule; a job that fires while this driver
is not the lease holder, or whose run another driver already claimed, does nothing.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from finhub.calendar import intraday_due, just_closed, just_opened
from finhub.config import SettingsError, load_settings
from finhub.jobs.quotes import batches
from finhub.jobs.rankings import JOBS as RANKING_JOBS
from finhub.logs import configure_logging, get_logger
from finhub.model import EXCHANGE_TZ, INTRADAY, AssetType
from finhub.planner.capacity import batch_size, build_plan, render
from finhub.runtime.banner import banner, render_banner
from finhub.runtime.context import Context
from finhub.runtime.health import database_unreachable, queue_depths, redis_unreachable
from finhub.runtime.lease import Lease, claim_run
from finhub.runtime.redis import resolve_redis_url
from finhub.runtime.workers import CrashLoop, WorkerPool

#: How often the driver renews (or tries to take) the scheduler lease, in seconds.
LEASE_REFRESH = 2
#: How long ``--once`` waits for the queues to drain, by default.
ONCE_TIMEOUT = 300
#: How often the driver checks its worker pool, in seconds.
WATCH_EVERY = 1.0
#: Exit status of a driver stopped by a second Ctrl+C (128 + SIGINT, as a shell reports it).
STOPPED_NOW = 130
#: Exit status when a service is unreachable at start or the workers crash-loop.
UNAVAILABLE = 3
#: Symbols per quote message when the chain's first provider is not configured.
DEFAULT_BATCH = 50

log = get_logger("finhub.driver")


@dataclass(frozen=True)
class Job:
    name: str
    every: float | None        # seconds, or None for the daily cron job
    enqueue: Callable[[], list]
    cron: dict | None = None   # CronTrigger arguments, instead of ``every`` or the daily clean-up time
    once: bool = True          # part of ``--once`` (a refresh cycle)
    by_hand: Callable[[], list] | None = None  # what a manual trigger sends, when not ``enqueue``


def _jobs(ctx: Context) -> list[Job]:
    import actors

    s, universe = ctx.settings, ctx.universe

    def batch_of(chain: list[str]) -> int:
        """Symbols per message: what the chain's first provider answers in one call (read from the
        settings: building the providers would import yfinance and pandas into the driver)."""
        return batch_size(s, chain[0]) or DEFAULT_BATCH

    def send_batches(actor, assets, size):
        # Stamped with the run's time: a batch re-queued past the next run is dropped (actors.prices).
        def send():
            scheduled = datetime.now(UTC).isoformat()
            return [actor.send(batch, scheduled) for batch in batches(assets, size)]
        return send

    def snapshot(kind, every):
        # Stamped with the scheduled slot, so a redelivered message rewrites the same snapshot.
        def send():
            slot = datetime.fromtimestamp(time.time() // every * every, UTC)
            return [actors.crypto_rankings.send(kind, slot.isoformat())]
        return send

    stock_quotes = send_batches(actors.stock_quotes, universe.stocks, batch_of(s.fallback.stock_quote))
    return [
        Job("crypto_quotes", s.schedule.crypto_quotes, send_batches(actors.crypto_quotes, universe.cryptos,
                                                                  batch_of(s.fallback.crypto_quote))),
        Job("stock_quotes", s.schedule.stock_quotes, stock_quotes),
        Job("health", s.schedule.health, lambda: [actors.health.send()]),
        Job(RANKING_JOBS["trending"], s.schedule.trending, snapshot("trending", s.schedule.trending)),
        Job(RANKING_JOBS["top"], s.schedule.top_cryptos, snapshot("top", s.schedule.top_cryptos)),
        Job("cleanup", None, lambda: [actors.cleanup.send()]),
        Job("validation_sweep", s.schedule.validation_sweep, lambda: [actors.validation_sweep.send()]),
        *_market_jobs(ctx, stock_quotes),
    ]


def _market_jobs(ctx: Context, stock_quotes: Callable[[], list]) -> list[Job]:
    """History (daily), market aggregation (every 30 min), and the stock refreshes at the open and
    just after the close (the close one also aggregates, so the day's levels are final). The bell
    jobs fire on weekdays in New York time; the NYSE calendar decides whether it is a bell."""
    import actors

    s = ctx.settings

    def history():
        return [actors.history_bars.send([a.symbol], interval) for interval in s.history.intervals
                if interval not in INTRADAY for a in ctx.universe if a.active]

    def intraday_history():
        # Stock bars only while a session is open or just closed; a run after downtime catches up
        # within the interval's lookback (finhub.jobs.history.plan).
        stocks = intraday_due(datetime.now(UTC), timedelta(seconds=s.schedule.history_intraday))
        return [actors.history_bars.send([a.symbol], interval) for interval in s.history.intervals
                if interval in INTRADAY for a in ctx.universe
                if a.active and (stocks or a.asset_type == AssetType.CRYPTO)]

    def every(*then: Callable[[], list]) -> Callable[[], list]:
        return lambda: [m for send in then for m in send()]

    def at_bell(check: Callable[[datetime], bool], *then: Callable[[], list]) -> Callable[[], list]:
        # A weekday holiday or an early close also fires the cron: the calendar says if it is a bell.
        return lambda: every(*then)() if check(datetime.now(UTC)) else []

    aggregate = lambda: [actors.market_aggregation.send()]  # noqa: E731
    return [
        Job("history", s.schedule.history, history, once=False),
        Job("history_intraday", s.schedule.history_intraday, intraday_history, once=False),
        Job("market_aggregation", s.schedule.market_aggregation, aggregate),
        Job("market_open", None, at_bell(just_opened, stock_quotes), once=False, by_hand=stock_quotes,
            cron={"day_of_week": "mon-fri", "hour": 9, "minute": 31, "timezone": EXCHANGE_TZ.key}),
        Job("market_close", None, at_bell(just_closed, stock_quotes, aggregate), once=False,
            by_hand=every(stock_quotes, aggregate),
            cron={"day_of_week": "mon-fri", "hour": "13,16", "minute": 1, "timezone": EXCHANGE_TZ.key}),
    ]


#: Jobs whose messages carry symbols: a manual trigger may name a few of their assets.
SYMBOL_JOBS = frozenset({"crypto_quotes", "stock_quotes", "history", "market_open", "market_close"})
#: Redis hash of each scheduled job's next run time (ISO 8601), published by the active driver;
#: it expires with the lease, so a stopped scheduler publishes none.
NEXT_RUNS_KEY = "finhub:scheduler:next_runs"


class UnknownJob(LookupError):
    """A job name the schedule does not have; ``str()`` lists the jobs."""

    def __init__(self, name: str, known: Collection[str]) -> None:
        self.name, self.known = name, sorted(known)
        super().__init__(f"unknown job {name!r}; jobs: {', '.join(self.known)}")


def schedules(ctx: Context) -> dict[str, str]:
    """Each scheduled job's schedule in words, by job name (the order the driver adds them)."""
    def describe(job: Job) -> str:
        if job.every:
            return f"every {job.every:g} s"
        if job.cron:
            c = job.cron
            return f"{c['day_of_week']} at hour {c['hour']} minute {c['minute']} ({c['timezone']})"
        return f"daily at {ctx.settings.schedule.cleanup_at} ({ctx.settings.schedule.timezone})"
    return {job.name: describe(job) for job in _jobs(ctx)}


def trigger(ctx: Context, name: str, symbols: Collection[str] | None = None) -> list[str]:
    """Enqueue job ``name`` once, now, as the schedule would (a bell job as at its bell), for only
    ``symbols`` of its assets when given; returns the message ids. Raises :class:`UnknownJob`,
    ``ValueError`` for symbols the job does not take or the universe does not have, and
    ``RuntimeError`` when the actors' broker is bound to another Redis than ``ctx``'s."""
    from finhub.universe import Universe

    names = schedules(ctx)
    if name not in names:
        raise UnknownJob(name, names)
    if symbols:
        if name not in SYMBOL_JOBS:
            raise ValueError(f"job {name!r} takes no symbols (only {', '.join(sorted(SYMBOL_JOBS))} do)")
        unknown = sorted(s for s in symbols if s not in ctx.universe)
        if unknown:
            raise ValueError(f"not in the universe: {', '.join(unknown)}")
        narrowed = replace(ctx)
        narrowed.universe = Universe(tuple(ctx.universe.select(symbols)))
        ctx = narrowed
    _check_broker(ctx.redis_url)
    job = next(j for j in _jobs(ctx) if j.name == name)
    sent = (job.by_hand or job.enqueue)()
    log.info("job triggered by hand", job=name, messages=len(sent), symbols=sorted(symbols) if symbols else None)
    return [m.message_id for m in sent]


def _check_broker(redis_url: str) -> None:
    """Refuse to send when the actors' broker (bound when ``actors`` was first imported) uses another
    Redis than ``redis_url``: the messages would land where no one looks."""
    import redis as redis_lib

    import actors

    def where(kwargs: dict) -> tuple:
        return tuple(kwargs.get(k) for k in ("host", "port", "db", "path"))
    used = actors.broker.client.connection_pool.connection_kwargs
    if where(used) != where(redis_lib.Redis.from_url(redis_url).connection_pool.connection_kwargs):
        raise RuntimeError("the actors' broker was set up for another Redis than this one: set FINHUB_REDIS_URL "
                           "before anything imports the actors")


def publish_next_runs(redis, scheduler, ttl_ms: int) -> None:
    """Publish each scheduled job's next run time for ``status`` and the web page (expiring after ``ttl_ms``)."""
    runs = {job.id: job.next_run_time.astimezone(UTC).isoformat(timespec="seconds")
            for job in scheduler.get_jobs() if job.id != "lease" and job.next_run_time}
    with redis.pipeline() as pipe:
        pipe.delete(NEXT_RUNS_KEY)
        if runs:
            pipe.hset(NEXT_RUNS_KEY, mapping=runs)
            pipe.pexpire(NEXT_RUNS_KEY, ttl_ms)
        pipe.execute()


#: Jobs whose first run was logged at INFO.
_announced: set[str] = set()


def _fire(ctx: Context, lease: Lease, job: Job) -> None:
    """Enqueue one scheduled run, if this driver is active and nobody fired this slot yet."""
    if not lease.held:
        return
    now = time.time()
    slot = int(now // job.every) if job.every else int(now // 3600 if job.cron else now // 86400)
    if not claim_run(ctx.redis, job.name, slot, (job.every or 86400) * 2):
        return
    sent = job.enqueue()
    # Each job's first run at INFO, the rest at DEBUG: a line per run would be most of the log.
    (log.debug if job.name in _announced else log.info)("enqueued", job=job.name, messages=len(sent))
    _announced.add(job.name)


def enqueue_once(ctx: Context, names: Collection[str] | None = None) -> int:
    """Every job of a refresh cycle once (for ``--once``), or only the jobs ``names``; returns the messages sent."""
    return sum(len(job.enqueue()) for job in _jobs(ctx) if (job.name in names if names else job.once))


class StopNow(Exception):
    """A second Ctrl+C: stop at once."""


def failed_waiting(ctx: Context) -> list[dict]:
    """The messages that failed at least once and wait for a retry (in a queue's delay set)."""
    import json

    found = []
    for queue in queue_depths(ctx.redis):
        for payload in ctx.redis.hvals(f"dramatiq:{queue}.DQ.msgs"):
            try:
                message = json.loads(payload)
            except ValueError:
                continue
            if message.get("options", {}).get("retries", 0) > 0:
                found.append(message)
    return found


def wait_for_drain(ctx: Context, timeout: float, watch: Callable[[], None] = lambda: None) -> bool:
    """Wait until no message waits, is delayed or is in flight on any queue, except the messages
    that already failed and only wait for their retry (``--once`` reports those as failures)."""
    deadline, quiet = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        watch()
        depths = queue_depths(ctx.redis)
        busy = sum(d["waiting"] + d["delayed"] for d in depths.values()) - len(failed_waiting(ctx))
        busy += sum(len(ctx.redis.smembers(k)) for k in ctx.redis.scan_iter("dramatiq:__acks__.*")
                    if not k.endswith(".DQ"))
        quiet = quiet + 1 if busy <= 0 else 0
        if quiet >= 3:
            return True
        time.sleep(0.5)
    return False


def _dead_letters(ctx: Context) -> dict[str, dict]:
    """Every dead-lettered message, by message id."""
    import json

    dead: dict[str, dict] = {}
    for queue in queue_depths(ctx.redis):
        for message_id, payload in ctx.redis.hgetall(f"dramatiq:{queue}.XQ.msgs").items():
            try:
                dead[str(message_id)] = json.loads(payload)
            except ValueError:
                dead[str(message_id)] = {}
    return dead


def _last_error(message: dict) -> str:
    lines = [line for line in message.get("options", {}).get("traceback", "").splitlines() if line.strip()]
    return lines[-1].strip()[:200] if lines else "no traceback"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="start_background_jobs.py", description=__doc__)
    parser.add_argument("--workers", type=int, default=2, metavar="N", help="worker processes to start (default 2)")
    parser.add_argument("--no-workers", action="store_true", help="only schedule; workers run elsewhere")
    parser.add_argument("--once", action="store_true", help="enqueue every job once, wait for the queues, exit")
    parser.add_argument("--timeout", type=float, default=ONCE_TIMEOUT, help="--once: seconds to wait for the queues")
    parser.add_argument("--strict", action="store_true", help="refuse to start when the schedule exceeds a quota")
    parser.add_argument("--web", type=int, metavar="PORT", help="also serve the web page and API on 127.0.0.1:PORT")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"finhub: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    redis_url = resolve_redis_url(settings, start_embedded=True)
    os.environ["FINHUB_REDIS_URL"] = redis_url
    # Both services answer before anything starts: else one line and a non-zero exit, no worker.
    for problem in (redis_unreachable(redis_url), database_unreachable(settings.database)):
        if problem:
            print(f"finhub: {problem}", file=sys.stderr, flush=True)
            return UNAVAILABLE
    ctx = Context(load_settings(), redis_url)
    try:
        ctx.universe, ctx.validation_policy  # noqa: B018 (asset and per-asset validation errors are settings errors)
    except SettingsError as exc:
        print(f"finhub: configuration error: {exc}", file=sys.stderr)
        return 2
    plan = build_plan(settings, ctx.universe)
    log.info("call plan\n" + render(plan))
    if not plan.fits or not plan.fits_month:
        log.warning("the schedule does not fit the providers' quotas: see `python -m finhub plan`")
        if args.strict:
            return 2
    for symbol, notice in ctx.universe.notices:
        log.warning(notice, symbol=symbol)
    ctx.engine  # noqa: B018 (migrate before any worker writes)
    pool = None if args.no_workers else WorkerPool(args.workers, {"FINHUB_REDIS_URL": redis_url})
    signals = _Signals()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signals)
    if pool is not None:
        pool.start()
    web = _start_web(args.web) if args.web else None
    # Last at start-up, after the plan (APScheduler's "Added job" lines are quiet, see finhub.logs).
    where = banner(settings, redis_url, None if args.no_workers else args.workers, args.web)
    if settings.log_format == "json":
        log.info("finhub is running", **where)
    else:
        print(render_banner(where), flush=True)
    try:
        try:
            return _run_once(ctx, args.timeout, pool) if args.once else _run_forever(ctx, pool, signals)
        except KeyboardInterrupt:  # Ctrl+C outside the scheduler (--once, start-up)
            log.info("interrupted: stopping (Ctrl+C again to stop now)")
            return 0
        except CrashLoop as exc:
            log.error(str(exc))
            print(f"finhub: {exc}", file=sys.stderr, flush=True)
            return UNAVAILABLE
        finally:
            if web is not None:
                web.terminate()
                web.wait(10)
            if pool is not None:
                pool.stop()
    except StopNow:
        if pool is not None:
            pool.kill()
        print("finhub: stopped now (second Ctrl+C); the workers were killed, their messages are redelivered",
              file=sys.stderr, flush=True)
        return STOPPED_NOW


def _start_web(port: int):
    """``finhub web --port PORT`` beside the scheduler, on the Redis this driver resolved."""
    import subprocess

    log.info("web page and API", url=f"http://127.0.0.1:{port}/")
    return subprocess.Popen([sys.executable, "-m", "finhub", "web", "--port", str(port)], env=dict(os.environ))


class _Signals:
    """SIGINT/SIGTERM: the first stops gracefully (``on_first``, else KeyboardInterrupt), the next
    SIGINT stops now (StopNow)."""

    def __init__(self) -> None:
        self.count = 0
        self.on_first: Callable[[], None] | None = None

    def __call__(self, signum, _frame) -> None:
        self.count += 1
        if self.count > 1:
            if signum == signal.SIGINT:
                raise StopNow
            return
        if self.on_first is None:
            raise KeyboardInterrupt
        log.info("stopping: waiting for running jobs (Ctrl+C again to stop now)")
        self.on_first()


def _run_once(ctx: Context, timeout: float, pool: WorkerPool | None = None) -> int:
    dead_before = set(_dead_letters(ctx))
    sent = enqueue_once(ctx)
    log.info("enqueued every job once", messages=sent)
    if pool is not None:
        pool.watch(lambda exc: None, WATCH_EVERY)

    def watch() -> None:
        if pool is not None and pool.crashed:
            raise pool.crashed
    drained = wait_for_drain(ctx, timeout, watch)
    failed = [m for i, m in _dead_letters(ctx).items() if i not in dead_before] + failed_waiting(ctx)
    if not drained:
        log.error("queues did not drain in time", timeout=timeout, queues=queue_depths(ctx.redis))
    by_actor: dict[str, list[dict]] = {}
    for message in failed:
        by_actor.setdefault(message.get("actor_name", "?"), []).append(message)
    retrying = {m.get("message_id") for m in failed_waiting(ctx)}
    for actor, messages in sorted(by_actor.items()):
        dead = sum(1 for m in messages if m.get("message_id") not in retrying)
        print(f"finhub --once: {actor}: {len(messages)} message(s) failed ({dead} dead-lettered, "
              f"{len(messages) - dead} awaiting a retry); last error: {_last_error(messages[-1])}",
              file=sys.stderr, flush=True)
    if failed or not drained:
        return 1
    log.info("all queues drained")
    return 0


def _run_forever(ctx: Context, pool: WorkerPool | None = None, signals: _Signals | None = None) -> int:
    lease = Lease(ctx.redis)
    scheduler = BlockingScheduler(timezone=ctx.settings.schedule.timezone,
                                  job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30})
    crashed: list[CrashLoop] = []
    if pool is not None:
        def crash_loop(exc: CrashLoop) -> None:
            crashed.append(exc)
            if scheduler.running:
                scheduler.shutdown(wait=False)
        pool.watch(crash_loop, WATCH_EVERY)
    scheduler.add_job(lambda: _on_lease(lease, scheduler), IntervalTrigger(seconds=LEASE_REFRESH), id="lease",
                      next_run_time=datetime.now(UTC))
    hour, minute = (int(x) for x in ctx.settings.schedule.cleanup_at.split(":"))
    _on_lease(lease)
    first_run = datetime.now(UTC) + timedelta(seconds=1)  # refresh at start-up, then on schedule
    scale = ctx.settings.time_scale  # 1 except in benchmarks, which run a day in minutes
    for job in (replace(j, every=j.every * scale) if j.every else j for j in _jobs(ctx)):
        if job.every:
            scheduler.add_job(_fire, IntervalTrigger(seconds=job.every), args=(ctx, lease, job), id=job.name,
                              name=job.name, next_run_time=first_run)
        elif job.cron:
            scheduler.add_job(_fire, CronTrigger(**job.cron), args=(ctx, lease, job), id=job.name, name=job.name)
        else:
            scheduler.add_job(_fire, CronTrigger(hour=hour, minute=minute), args=(ctx, lease, job), id=job.name,
                              name=job.name)
    # Ctrl+C and SIGTERM stop the scheduler from its own handler: a KeyboardInterrupt thrown into
    # APScheduler's loop can leave its job-store lock held and the exit hanging on its threads.
    def stop() -> None:
        if scheduler.running:
            scheduler.shutdown(wait=False)
    if signals is None:
        signals = _Signals()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signals)
    signals.on_first = stop
    try:
        if signals.count == 0 and not crashed:
            scheduler.start()
    finally:
        lease.release()
        log.info("scheduler stopped")
    if crashed:
        raise crashed[0]
    return 0


def _on_lease(lease: Lease, scheduler: BlockingScheduler | None = None) -> None:
    was = lease.held
    if lease.refresh() != was:
        log.info("scheduler lease " + ("taken: this driver schedules" if lease.held else "lost: standing by"))
    if lease.held and scheduler is not None:
        publish_next_runs(lease.redis, scheduler, lease.ttl_ms)
