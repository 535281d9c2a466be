"""``python -m finhub actions SYMBOL``: the splits and dividends stored for a stock."""

from __future__ import annotations

import json
import sys

from finhub.commands.prices import symbol
from finhub.storage import make_engine, migrate, stored_actions


def register(subparsers) -> None:
    parser = subparsers.add_parser("actions", help="the splits and dividends stored for a stock")
    parser.add_argument("symbol", type=symbol, metavar="SYMBOL")
    parser.add_argument("--json", action="store_true", help="one JSON array, for scripts")
    parser.set_defaults(func=run)


def run(args, settings) -> int:
    engine = make_engine(settings.database)
    migrate(engine)
    rows = stored_actions(engine, args.symbol)
    if args.json:
        print(json.dumps([{"symbol": r["symbol"], "date": r["date"].isoformat(), "kind": r["kind"],
                           "ratio": r["ratio"], "amount": r["amount"], "source": r["source"]} for r in rows], indent=1))
        return 0
    if not rows:
        print(f"finhub: no split or dividend stored for {args.symbol} (they are stored when its bars are fetched)",
              file=sys.stderr)
        return 1
    print(f"{'date':10}  {'kind':8}  {'value':>10}  source")
    for r in rows:
        value = f"{r['ratio']:g}:1" if r["kind"] == "split" else f"{r['amount']:.4f}"
        print(f"{r['date']:%Y-%m-%d}  {r['kind']:8}  {value:>10}  {r['source']}")
    return 0
