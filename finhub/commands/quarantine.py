"""``python -m finhub quarantine``: recent rejections by validation, with every source's value and the reason."""

from __future__ import annotations

import argparse
import json
import re
from datetime import UTC, datetime, timedelta

from finhub.commands import iso_utc
from finhub.storage import make_engine, migrate, recent_quarantined

_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def since(value: str) -> datetime:
    """``30m``, ``6h``, ``7d`` ago, or an ISO date/time (UTC unless it says otherwise)."""
    if match := re.fullmatch(r"(\d+)([mhd])", value):
        return datetime.now(UTC) - timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a duration like 30m, 6h, 7d or an ISO date/time, got {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {value!r}")
    return int(value)


def register(subparsers) -> None:
    parser = subparsers.add_parser("quarantine", help="recent prices rejected by validation, with each source's value")
    parser.add_argument("--limit", type=positive, default=50, help="rejections to show, newest first (default 50)")
    parser.add_argument("--since", type=since, metavar="WHEN",
                        help="only those rejected since: 30m, 6h, 7d or ISO time")
    parser.add_argument("--json", action="store_true", help="one JSON array, for scripts")
    parser.set_defaults(func=run)


def run(args, settings) -> int:
    engine = make_engine(settings.database)
    migrate(engine)
    rows = recent_quarantined(engine, limit=args.limit, since=args.since)
    if args.json:
        print(json.dumps([{"symbol": r["symbol"], "asset_type": r["asset_type"], "interval": r["interval"],
                           "timestamp": iso_utc(r["timestamp"]), "reason": r["reason"], "detail": r["detail"],
                           "sources": r["observations"], "quarantined_at": iso_utc(r["created_at"])} for r in rows],
                         indent=1))
        return 0
    if not rows:
        print("no rejected prices" + (f" since {iso_utc(args.since)}" if args.since else ""))
        return 0
    print(f"{'rejected at':20}  {'symbol':8} {'interval':8} {'market time':20}  {'reason':12}  sources")
    for r in rows:
        sources = ", ".join(f"{o['provider']} {o['price']}" for o in r["observations"])
        print(f"{iso_utc(r['created_at']):20}  {r['symbol']:8} {r['interval']:8} {iso_utc(r['timestamp']):20}  "
              f"{r['reason']:12}  {sources}")
        print(f"{'':22}{r['detail']}")
    return 0
