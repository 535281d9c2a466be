"""The start-up banner: where the data, the queues and the logs are, printed last at start-up (after
the call plan), so it is the block a person reads before the jobs' lines begin."""

from __future__ import annotations

import shlex
from urllib.parse import parse_qs, urlsplit

from finhub.config import Settings


def redis_cli(url: str) -> str:
    """The redis-cli command that reaches ``url`` (``-s`` for a unix socket, ``-n`` for the database);
    a password is left to ``--askpass``, never written out."""
    parts = urlsplit(url)
    args = ["redis-cli"]
    db = parse_qs(parts.query).get("db", [""])[0]
    if parts.scheme == "unix":
        args += ["-s", parts.path]
    else:
        args += ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 6379)]
        if parts.scheme == "rediss":
            args.append("--tls")
        db = parts.path.strip("/") or db
    if db and db != "0":
        args += ["-n", db]
    if parts.password:
        args.append("--askpass")
    return shlex.join(args)


def _where(url: str) -> str:
    """``url`` without its password."""
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return parts.geturl()


def banner(settings: Settings, redis_url: str, workers: int | None, web_port: int | None = None) -> dict[str, str]:
    """What the banner says, by line."""
    cli = redis_cli(redis_url)
    database = settings.database if settings.database_url is None else str(settings.database_url)
    return {
        "data": str(database),
        "queues": f"{_where(redis_url)}  (waiting: {cli} LLEN dramatiq:prices; "
                  f"all: {cli} --scan --pattern 'dramatiq:*')",
        "workers": f"{workers} processes" if workers else "none started here (--no-workers)",
        "status": "python -m finhub status",
        "logs": f"stderr, {settings.log_format}, level {settings.log_level}",
        "web": f"http://127.0.0.1:{web_port}/ (metrics: /metrics)" if web_port else "none (--web PORT)",
    }


def render_banner(lines: dict[str, str]) -> str:
    width = max(len(k) for k in lines) + 1
    return "\n".join(["finhub is running; Ctrl+C stops it"] +
                     [f"  {k + ':':<{width}} {v}" for k, v in lines.items()])
