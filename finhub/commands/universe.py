"""``python -m finhub universe``: the configured assets, their provider names and notices."""

from __future__ import annotations

from finhub.universe import build_universe


def register(subparsers) -> None:
    parser = subparsers.add_parser("universe", help="list the configured assets and their provider names")
    parser.set_defaults(func=run)


def run(args, settings) -> int:
    universe = build_universe(settings.assets)
    print(f"{'symbol':8} {'type':6} {'yahoo':14} {'alphavantage':12} {'coingecko':26} state")
    for a in universe:
        state = "delisted" if not a.active else ("notice" if a.notice else "active")
        print(f"{a.symbol:8} {a.asset_type:6} {a.yahoo or '-':14} {a.alphavantage or '-':12} "
              f"{a.coingecko_id or '-':26} {state}")
    stocks, cryptos = len(universe.stocks), len(universe.cryptos)
    print(f"\n{stocks} stocks and {cryptos} cryptos collected")
    for _symbol, notice in universe.notices:
        print(f"warning: {notice}")
    return 0
