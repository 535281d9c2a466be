"""``python -m finhub prices``: the newest stored price of each symbol, its market time, source and validation."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from finhub.commands import iso_utc
from finhub.model import INTERVALS
from finhub.storage import latest_prices, make_engine, migrate, refresh_latest
from finhub.universe import SYMBOL_PATTERN


def symbol(value: str) -> str:
    if not SYMBOL_PATTERN.fullmatch(value.upper()):
        raise argparse.ArgumentTypeError(f"not a symbol: {value!r} (letters and digits, like AAPL, BTC or BRK.B)")
    return value.upper()


def register(subparsers) -> None:
    parser = subparsers.add_parser("prices", help="the newest stored price per symbol, its market time and source")
    parser.add_argument("symbols", nargs="*", type=symbol, metavar="SYMBOL",
                        help="only these symbols (default: every stored one)")
    parser.add_argument("--interval", choices=INTERVALS, default="quote", help="live quotes (default) or bars")
    parser.add_argument("--json", action="store_true", help="one JSON array, for scripts")
    parser.add_argument("--refresh", action="store_true",
                        help="first copy the newest rows from the history again, of the symbols given or of all "
                             "(after editing the history by hand, or upgrading while older workers ran)")
    parser.set_defaults(func=run)


def _age(moment: datetime, now: datetime) -> str:
    minutes = max(0, int((now - moment).total_seconds() // 60))
    return f"{minutes}m" if minutes < 120 else f"{minutes // 60}h" if minutes < 48 * 60 else f"{minutes // 1440}d"


def _price(value: float) -> str:
    return f"{value:,.2f}" if value >= 1 else f"{value:.6g}"


def run(args, settings) -> int:
    engine = make_engine(settings.database)
    migrate(engine)
    wanted = args.symbols
    if args.refresh:
        refresh_latest(engine, [(s, interval) for s in wanted for interval in INTERVALS] if wanted else None)
    latest = latest_prices(engine, args.interval, wanted or None)
    rows = [latest[s] for s in sorted(latest)]
    if args.json:
        print(json.dumps([{"symbol": r["symbol"], "asset_type": r["asset_type"], "interval": r["interval"],
                           "price": r["price"], "timestamp": iso_utc(r["timestamp"]), "source": r["source"],
                           "validation_status": r["validation_status"], "sources": r["sources"].split(","),
                           "max_deviation_pct": r["max_deviation_pct"]} for r in rows], indent=1))
    elif rows:
        now = datetime.now(UTC)
        print(f"{'symbol':8} {'type':6} {'price':>14}  {'market time':20}  {'age':>5}  {'source':12}  validation")
        for r in rows:
            print(f"{r['symbol']:8} {r['asset_type']:6} {_price(r['price']):>14}  {iso_utc(r['timestamp']):20}  "
                  f"{_age(r['timestamp'], now):>5}  {r['source']:12}  {r['validation_status']} ({r['sources']})")
    else:
        print(f"no stored {args.interval} prices")
    missing = [s for s in wanted if s not in latest]
    if missing:
        print(f"finhub: no stored {args.interval} price for {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0
