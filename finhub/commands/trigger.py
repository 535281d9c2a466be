"""``python -m finhub trigger JOB [--symbols A,B]``: enqueue a scheduled job once, now (as
``POST /api/jobs/{job}/trigger``), and print the message ids."""

from __future__ import annotations

import sys

from finhub.runtime.context import Context
from finhub.runtime.redis import resolve_redis_url


def register(subparsers) -> None:
    parser = subparsers.add_parser("trigger", help="enqueue a scheduled job once, now (workers run it)")
    parser.add_argument("job", help="a job of the schedule (finhub status lists them)")
    parser.add_argument("--symbols", help="only these assets, comma-separated (quote and history jobs)")
    parser.set_defaults(func=run)


def run(args, settings) -> int:
    import os

    from finhub.runtime.driver import UnknownJob, trigger

    symbols = [s.strip() for s in args.symbols.split(",") if s.strip()] if args.symbols else None
    try:
        redis_url = resolve_redis_url(settings)
    except RuntimeError as exc:
        print(f"finhub trigger: {exc}", file=sys.stderr)
        return 3
    os.environ["FINHUB_REDIS_URL"] = redis_url  # the actors' broker sends to the Redis resolved here
    try:
        ids = trigger(Context(settings, redis_url), args.job, symbols)
    except (UnknownJob, ValueError, RuntimeError) as exc:
        print(f"finhub trigger: {exc}", file=sys.stderr)
        return 2
    print(f"{args.job}: {len(ids)} message(s) enqueued")
    for message_id in ids:
        print(f"  {message_id}")
    return 0
