"""The Dramatiq broker on Redis, with the middleware finhub's actors rely on.

The broker's Redis is ``FINHUB_REDIS_URL`` (the driver hands its workers the one it resolved, see
:mod:`finhub.runtime.redis`), else ``settings.redis_url``, else 127.0.0.1:6379. Building the
broker opens no connection: importing the actors never touches Redis.

Redelivery: dramatiq requeues a dead worker's messages only in "maintenance", run with
probability ``maintenance_chance`` per broker call, for workers silent longer than
``heartbeat_timeout``. The defaults leave messages stuck for over 15 minutes after a SIGKILL; the
values here bring them back within ~30 s (docs/operations.md).
"""

from __future__ import annotations

import os
import threading

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications, TimeLimit

from finhub.calendar import sessions
from finhub.config import Settings
from finhub.logs import get_logger
from finhub.runtime.context import current
from finhub.runtime.health import CONSUMER_KEY, LIVE_WITHIN_MS, register_consumer
from finhub.runtime.redis import LOCAL_REDIS
from providers.base import RetryLater

#: A worker silent this long is presumed dead and its messages are requeued (ms).
HEARTBEAT_TIMEOUT_MS = LIVE_WITHIN_MS
#: Chance (per million broker calls) that a call runs the requeue maintenance.
MAINTENANCE_CHANCE = 100_000
#: Retries of a "retry later" failure, with exponential backoff between these bounds (ms).
MAX_RETRIES = 8
MIN_BACKOFF_MS = 5_000
MAX_BACKOFF_MS = 600_000

log = get_logger(__name__)


def retry_when(retries: int, exc: BaseException) -> bool:
    """Retry only what a later attempt can fix: provider "retry later" errors and lost connections."""
    transient = isinstance(exc, (RetryLater, redis.ConnectionError, ConnectionError, TimeoutError))
    return transient and retries < MAX_RETRIES


def make_broker(url: str) -> RedisBroker:
    """A RedisBroker on ``url`` with finhub's middleware."""
    middleware = [AgeLimit(), TimeLimit(), ShutdownNotifications(), Callbacks(), Pipelines(),
                  Retries(max_retries=MAX_RETRIES, min_backoff=MIN_BACKOFF_MS, max_backoff=MAX_BACKOFF_MS,
                          retry_when=retry_when)]
    return RedisBroker(url=url, middleware=middleware, heartbeat_timeout=HEARTBEAT_TIMEOUT_MS,
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

        def renew() -> None:
            while True:
                try:
                    register_consumer(broker.client, broker.broker_id, queues)
                except redis.RedisError as exc:  # the worker still works; status calls it not live meanwhile
                    log.debug("could not register this worker's queues", error=str(exc))
                if self._stop.wait(self.EVERY):
                    return
        threading.Thread(target=renew, name="finhub-register", daemon=True).start()

    def before_worker_shutdown(self, broker, worker) -> None:
        self._stop.set()
        try:
            broker.client.delete(CONSUMER_KEY.format(worker=broker.broker_id))
        except redis.RedisError:
            pass


def setup_broker(settings: Settings) -> RedisBroker:
    """Create the actors' broker and make it Dramatiq's global one (before any actor is defined)."""
    url = os.environ.get("FINHUB_REDIS_URL") or (settings.redis_url.reveal() if settings.redis_url else LOCAL_REDIS)
    broker = make_broker(url)
    broker.add_middleware(WarmContext())
    broker.add_middleware(RegisterConsumer())
    dramatiq.set_broker(broker)
    return broker
