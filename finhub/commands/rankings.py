"""``python -m finhub trending`` and ``python -m finhub top``: the latest stored snapshots."""

from __future__ import annotations

from finhub.storage import latest_snapshot, make_engine, migrate


def register(subparsers) -> None:
    for kind, help_text in (("trending", "CoinGecko's trending cryptos, as last stored"),
                            ("top", "the top cryptos by market cap, as last stored")):
        parser = subparsers.add_parser(kind, help=help_text)
        parser.add_argument("--limit", type=int, default=100, help="rows to show (default 100)")
        parser.set_defaults(func=run, kind=kind)


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.6g}" if value < 1 else f"{value:,.2f}"


def run(args, settings) -> int:
    engine = make_engine(settings.database)
    migrate(engine)
    at, rows = latest_snapshot(engine, args.kind)
    if at is None:
        print(f"no {args.kind} snapshot stored yet (the scheduler takes one every few minutes)")
        return 1
    print(f"{args.kind} cryptos as of {at.isoformat()}")
    print(f"{'rank':>4}  {'symbol':10} {'name':24} {'price (USD)':>16} {'market cap':>20} {'24h volume':>20}")
    for r in rows[:args.limit]:
        print(f"{r['rank']:>4}  {r['symbol'][:10]:10} {r['name'][:24]:24} {_money(r['price']):>16} "
              f"{_money(r['market_cap']):>20} {_money(r['volume_24h']):>20}")
    return 0
