"""``python -m finhub web [--host 127.0.0.1] [--port 8000]``: the dashboard, REST API and
``/metrics`` (finhub.web.app), served by uvicorn. Off loopback it needs ``FINHUB_WEB_TOKEN``."""

from __future__ import annotations

import ipaddress
import socket
import sys
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("web", help="serve the dashboard, REST API and /metrics")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; any other needs "
                                                            "FINHUB_WEB_TOKEN)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--share", type=float, default=None, metavar="SECONDS",
                        help="how long one read of the status serves every request (default 1; 0: each reads)")
    parser.set_defaults(func=run)


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) resolves only to loopback addresses."""
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except socket.gaierror:
        return False
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


def run(args, settings) -> int:
    import uvicorn

    from finhub.runtime.redis import resolve_redis_url
    from finhub.web.app import SHARED_FOR, create_app

    if not 0 < args.port < 65536:
        print(f"finhub web: --port must be 1-65535, got {args.port}", file=sys.stderr)
        return 2
    loopback = is_loopback(args.host)
    if not loopback and not settings.web_token:
        print(f"finhub web: refusing to serve on {args.host}, which is not loopback, without a token: "
              "set FINHUB_WEB_TOKEN (or web_token in finhub.toml)", file=sys.stderr)
        return 2
    try:
        redis_url = resolve_redis_url(settings)
    except RuntimeError:  # none configured or on 127.0.0.1:6379: the driver's embedded one, if it runs
        embedded = Path(settings.data_dir).resolve() / "redis" / "redis.sock"
        redis_url = f"unix://{embedded}" if embedded.exists() else ""  # "": the pages say Redis is unreachable
    app = create_app(settings, redis_url, loopback=loopback,
                     shared_for=SHARED_FOR if args.share is None else max(0.0, args.share))
    print(f"finhub web: http://{args.host}:{args.port}/ (API: /openapi.json, metrics: /metrics)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0
