"""``python -m finhub workers``: the live worker processes (dramatiq's heartbeats in Redis): host,
pid, queues, age, last heartbeat."""

from __future__ import annotations

import json
import sys

from finhub.runtime.context import Context
from finhub.runtime.health import live_workers, redis_unreachable
from finhub.runtime.redis import resolve_redis_url


def register(subparsers) -> None:
    parser = subparsers.add_parser("workers", help="live worker processes: host, pid, queues, age")
    parser.add_argument("--json", action="store_true", help="print them as JSON (as GET /api/workers)")
    parser.set_defaults(func=run)


def run(args, settings) -> int:
    try:
        redis_url = resolve_redis_url(settings)
    except RuntimeError as exc:
        print(f"finhub workers: {exc}", file=sys.stderr)
        return 3
    problem = redis_unreachable(redis_url)
    if problem:
        print(f"finhub workers: {problem}", file=sys.stderr)
        return 3
    workers = live_workers(Context(settings, redis_url).redis)
    if args.json:
        print(json.dumps(workers, indent=2))
        return 0
    if not workers:
        print("no live worker (none has sent a heartbeat in the last 10 s)")
        return 0
    print(f"{'host':20} {'pid':>7} {'age':>9} {'beat':>6}  queues")
    for w in workers:
        age = f"{w['age_s']:.0f} s" if w["age_s"] is not None else "?"
        queues = ",".join(w["queues"])
        print(f"{w['host'] or '?':20} {w['pid'] or '?':>7} {age:>9} {w['last_beat_s']:>4.1f} s  {queues}")
    return 0
