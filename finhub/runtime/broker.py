"""The Dramatiq broker on Redis, with the middleware finhub's actors rely on.

The broker's Redis is ``FINHUB_REDIS_URL`` (the driver hands its workers the one it resolved, see
:mod:`finhub.runtime.redis`), else ``settings.redis_url``, else 127.0.0.1:6379. Building the
broker opens no connection: importing the actors never touches Redis.

Redelivery: dramatiq requeues a dead worker's messages only in "maintenance", run with
probability ``maintenance_chance`` per broker call, for workers silent longer than
``heartbeat_timeout``. The defaults leave messages stuck for over 15 minutes after a SIGKILL; the
values here bring them back within ~30 s (docs/operations.md).

Database outages: a job that cannot reach the database (:func:`finhub.storage.is_outage`) is retried
with backoff (at most :data:`OUTAGE_MAX_BACKOFF_MS` apart, so storing resumes soon after the
database is back) until its message is ``database_outage_tolerance`` old, whatever its retry count:
a ``validate_and_store`` message carries the quotes already fetched, so nothing is fetched twice or
lost. Jobs with ``max_retries=0`` (periodic, the next run supersedes them) are dropped with a
warning instead of dead-lettered. Bad data and schema errors are not outages: they fail as before.
"""

from __future__ import annotations

import os
import threading
import time
import traceback

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import compute_backoff
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, ShutdownNotifications, TimeLimit
from dramatiq.middleware import Retries as DramatiqRetries

from finhub.calendar import sessions
from finhub.config import Settings
from finhub.logs import get_logger
from finhub.runtime.context import current
from finhub.runtime.health import CONSUMER_KEY, LIVE_WITHIN_MS, WORKER_KEY, register_consumer
from finhub.runtime.redis import LOCAL_REDIS
from finhub.storage import is_outage
from providers.base import RetryLater

#: A worker silent this long is presumed dead and its messages are requeued (ms).
HEARTBEAT_TIMEOUT_MS = LIVE_WITHIN_MS
#: Chance (per million broker calls) that a call runs the requeue maintenance.
MAINTENANCE_CHANCE = 100_000
#: Retries of a "retry later" failure, with exponential backoff between these bounds (ms).
MAX_RETRIES = 8
MIN_BACKOFF_MS = 5_000
MAX_BACKOFF_MS = 600_000
#: Longest pause between two attempts of a job waiting out a database outage (ms).
OUTAGE_MAX_BACKOFF_MS = 20_000
#: Default of ``database_outage_tolerance`` (s), for brokers built without settings.
OUTAGE_TOLERANCE_S = 600.0

log = get_logger(__name__)


def retry_when(retries: int, exc: BaseException) -> bool:
    """Retry only what a later attempt can fix: provider "retry later" errors and lost connections."""
    transient = isinstance(exc, (RetryLater, redis.ConnectionError, redis.TimeoutError, ConnectionError,
                                 TimeoutError))
    return transient and retries < MAX_RETRIES


#: Seconds between two attempts to enqueue a retry while Redis does not answer.
REENQUEUE_PAUSE_S = 2.0


def enqueue_patiently(broker: dramatiq.Broker, message: dramatiq.Message, delay: int | None = None) -> None:
    """``broker.enqueue``, tried again every :data:`REENQUEUE_PAUSE_S` until Redis answers.

    A job that failed because Redis went away must be able to put its retry back: were the enqueue to
    raise, dramatiq would log it and acknowledge the message all the same, losing it (and with a
    ``validate_and_store`` message, the quotes it carries). Until Redis is back this worker thread
    can do nothing else anyway; should the worker be stopped meanwhile, the unacknowledged message
    is redelivered."""
    failures = 0
    while True:
        try:
            broker.enqueue(message, delay=delay)
            if failures:
                log.info("retry enqueued once Redis answered again", message_id=message.message_id,
                         attempts=failures + 1)
            return
        except (redis.ConnectionError, redis.TimeoutError, dramatiq.errors.BrokerConnectionError) as exc:
            if not failures:
                log.warning("Redis unreachable: the job's retry is enqueued once it answers",
                            actor=message.actor_name, message_id=message.message_id, error=str(exc))
            failures += 1
            time.sleep(REENQUEUE_PAUSE_S)


class _PatientEnqueue:
    """The broker as dramatiq's own retry logic sees it: the same, but enqueueing patiently."""

    def __init__(self, broker: dramatiq.Broker) -> None:
        self._broker = broker

    def __getattr__(self, name: str):
        return getattr(self._broker, name)

    def enqueue(self, message: dramatiq.Message, *, delay: int | None = None) -> None:
        enqueue_patiently(self._broker, message, delay)


class Retries(DramatiqRetries):
    """Dramatiq's retries, plus: a database outage is retried until the message is
    ``outage_tolerance`` seconds old (counted from its first send), with its own capped backoff and
    its own attempt counter (``db_retries``), so waiting one out spends none of the message's retries."""

    def __init__(self, *, outage_tolerance: float = OUTAGE_TOLERANCE_S, **kwargs) -> None:
        super().__init__(**kwargs)
        self.outage_tolerance_ms = int(outage_tolerance * 1000)

    def after_process_message(self, broker, message, *, result=None, exception=None):
        if exception is None or not is_outage(exception):
            return super().after_process_message(_PatientEnqueue(broker), message, result=result,
                                                 exception=exception)
        actor = broker.get_actor(message.actor_name)
        now_ms = int(time.time() * 1000)
        age_ms = now_ms - message.message_timestamp
        attempts = message.options.get("db_retries", 0)
        fields = {"actor": message.actor_name, "message_id": message.message_id, "attempts": attempts + 1,
                  "age_s": round(age_ms / 1000), "error": str(exception).splitlines()[0][:200]}
        if message.options.get("max_retries", actor.options.get("max_retries")) == 0:
            log.warning("database unreachable: job dropped, its next scheduled run replaces it", **fields)
            return  # acknowledged, not dead-lettered
        if age_ms >= self.outage_tolerance_ms:
            log.error("database unreachable for longer than database_outage_tolerance: message dead-lettered",
                      tolerance_s=self.outage_tolerance_ms // 1000, **fields)
            message.fail()
            return
        message.options["db_retries"] = attempts + 1
        message.options["traceback"] = traceback.format_exc(limit=30)
        message.options["requeue_timestamp"] = now_ms
        min_backoff = message.options.get("min_backoff", actor.options.get("min_backoff", self.min_backoff))
        _, delay = compute_backoff(attempts, factor=min_backoff, max_backoff=OUTAGE_MAX_BACKOFF_MS)
        delay = min(delay, max(self.outage_tolerance_ms - age_ms, 1))
        log.warning("database unreachable: job retried", delay_s=round(delay / 1000, 1), **fields)
        enqueue_patiently(broker, message, delay)


class FinhubRedisBroker(RedisBroker):
    """Dramatiq's RedisBroker, handing back the delayed messages a worker drops when Redis restarts.

    After a connection error dramatiq's consumer thread empties its in-memory delay queue (the
    delayed and retrying messages it prefetched) and consumes anew, but those messages stay in this
    worker's acknowledgement set in Redis, which is requeued only when the worker is dead: while it
    lives they are stuck (measured: 16 of 20 delayed messages after a ``kill -9`` of Redis). So when
    a delay queue is consumed again in this process, its messages still held under this worker's id
    go back to that queue first. A message that was being moved just then may run twice; every
    write is idempotent.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._consumed: set[str] = set()

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000):
        if queue_name.endswith(".DQ"):
            if queue_name in self._consumed:
                self._requeue_held(queue_name)
            self._consumed.add(queue_name)
        return super().consume(queue_name, prefetch=prefetch, timeout=timeout)

    def _requeue_held(self, queue_name: str) -> None:
        try:
            held = self.client.smembers(f"{self.namespace}:__acks__.{self.broker_id}.{queue_name}")
            if held:
                self.do_requeue(queue_name, *held)
                log.warning("delayed messages dropped by a consumer restart re-queued", queue=queue_name,
                            messages=len(held))
        except redis.ConnectionError as exc:  # still down: the consumer thread tries again in a second
            raise dramatiq.errors.ConnectionClosed(exc) from exc


def make_broker(url: str, outage_tolerance: float = OUTAGE_TOLERANCE_S) -> RedisBroker:
    """A RedisBroker on ``url`` with finhub's middleware; ``outage_tolerance`` is how long (s) a job
    waits out an unreachable database."""
    middleware = [AgeLimit(), TimeLimit(), ShutdownNotifications(), Callbacks(), Pipelines(),
                  Retries(max_retries=MAX_RETRIES, min_backoff=MIN_BACKOFF_MS, max_backoff=MAX_BACKOFF_MS,
                          retry_when=retry_when, outage_tolerance=outage_tolerance)]
    return FinhubRedisBroker(url=url, middleware=middleware, heartbeat_timeout=HEARTBEAT_TIMEOUT_MS,
                       maintenance_chance=MAINTENANCE_CHANCE)


class WarmContext(dramatiq.Middleware):
    """Build the jobs' context (store, providers, quotas) and the market calendar as a worker
    process boots: jobs that arrive meanwhile wait for it instead of each paying for it, and the
    first refresh after a start is not seconds slower than the rest."""

    def after_worker_boot(self, broker, worker) -> None:
        try:
            current()
            sessions()
        except Exception as exc:  # noqa: BLE001 - the first job raises it again, where it is retried and logged
            log.warning("could not prepare the jobs' context at worker boot", error=str(exc))


class RegisterConsumer(dramatiq.Middleware):
    """While a worker process runs, keep a record in Redis of which queues it consumes (renewed
    every few seconds, so a flushed or restarted Redis gets it back): ``status`` and ``backfill``
    say when no live worker consumes a queue (finhub.runtime.health.live_consumers)."""

    EVERY = 5.0

    def __init__(self) -> None:
        self._stop = threading.Event()

    def after_worker_boot(self, broker, worker) -> None:
        wanted = worker.consumer_whitelist
        queues = [q for q in broker.get_declared_queues() if not wanted or q in wanted]
        started = time.time()

        def renew() -> None:
            while True:
                try:
                    register_consumer(broker.client, broker.broker_id, queues, started)
                except redis.RedisError as exc:  # the worker still works; status calls it not live meanwhile
                    log.debug("could not register this worker's queues", error=str(exc))
                if self._stop.wait(self.EVERY):
                    return
        threading.Thread(target=renew, name="finhub-register", daemon=True).start()

    def before_worker_shutdown(self, broker, worker) -> None:
        self._stop.set()
        try:
            broker.client.delete(*(key.format(worker=broker.broker_id) for key in (CONSUMER_KEY, WORKER_KEY)))
        except redis.RedisError:
            pass


def expose_worker_metrics(settings: Settings) -> bool:
    """With ``worker_metrics_port`` set, point dramatiq's Prometheus middleware at it (on loopback
    unless ``dramatiq_prom_host`` says otherwise) and return True. The middleware reads its address
    when first imported, in the workers and in the exposition process dramatiq's master forks: both
    the master (finhub.runtime.dramatiq_cli) and the workers call this first."""
    if not settings.worker_metrics_port:
        return False
    os.environ.setdefault("dramatiq_prom_port", str(settings.worker_metrics_port))
    os.environ.setdefault("dramatiq_prom_host", "127.0.0.1")
    return True


def setup_broker(settings: Settings) -> RedisBroker:
    """Create the actors' broker and make it Dramatiq's global one (before any actor is defined)."""
    url = os.environ.get("FINHUB_REDIS_URL") or (settings.redis_url.reveal() if settings.redis_url else LOCAL_REDIS)
    broker = make_broker(url, settings.database_outage_tolerance)
    broker.add_middleware(WarmContext())
    broker.add_middleware(RegisterConsumer())
    if expose_worker_metrics(settings):
        from dramatiq.middleware.prometheus import Prometheus

        broker.add_middleware(Prometheus())
    dramatiq.set_broker(broker)
    return broker
