"""``python -m finhub discover CATEGORY``: candidates to collect (crypto, us_equities, etf), and with
``--add`` into finhub.toml's ``[assets]`` once ``plan`` says the bigger universe fits the quotas."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import redis

from finhub.config import SettingsError
from finhub.config.edit import add_assets
from finhub.config.loader import CONFIG_ENV, DEFAULT_CONFIG_FILE
from finhub.discovery import CATEGORIES, EXCHANGES, Candidate, Discovery
from finhub.jobs.discovery import DiscoveryError, discover
from finhub.planner.capacity import build_plan, render
from finhub.runtime.context import Context
from finhub.runtime.redis import resolve_redis_url
from finhub.universe import build_universe


class UsageError(ValueError):
    """A bad argument; its message is the one line shown."""


def register(subparsers) -> None:
    parser = subparsers.add_parser("discover", help="find assets to collect by category; --add them to finhub.toml")
    parser.add_argument("category", metavar="CATEGORY", help=f"one of {', '.join(CATEGORIES)}")
    parser.add_argument("--limit", type=int, default=100, help="how many to list (default 100)")
    parser.add_argument("--min-market-cap", type=float, metavar="USD", help="crypto: only coins at least this large")
    parser.add_argument("--exclude-stable", action="store_true", help="crypto: leave out stablecoins, wrapped tokens")
    parser.add_argument("--exchange", help=f"us_equities/etf: comma-separated exchanges ({', '.join(EXCHANGES)})")
    parser.add_argument("--add", action="store_true", help="add the new ones to finhub.toml's [assets]")
    parser.add_argument("--force", action="store_true", help="with --add: even if the plan does not fit the quotas")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout, for scripts")
    parser.set_defaults(func=run)


def _check(args) -> list[str] | None:
    """The arguments checked; returns the exchanges asked for."""
    if args.category not in CATEGORIES:
        raise UsageError(f"unknown category {args.category!r} (choose from {', '.join(CATEGORIES)})")
    if args.limit < 1:
        raise UsageError(f"--limit must be at least 1, got {args.limit}")
    if args.category != "crypto" and (args.min_market_cap is not None or args.exclude_stable):
        raise UsageError("--min-market-cap and --exclude-stable apply to crypto only (listings carry no market cap)")
    if args.category == "crypto" and args.exchange:
        raise UsageError("--exchange applies to us_equities and etf only")
    if args.force and not args.add:
        raise UsageError("--force goes with --add")
    if not args.exchange:
        return None
    exchanges = [e.strip().upper() for e in args.exchange.split(",") if e.strip()]
    unknown = [e for e in exchanges if e not in EXCHANGES]
    if unknown or not exchanges:
        raise UsageError(f"unknown exchange {', '.join(unknown) or repr(args.exchange)} "
                         f"(choose from {', '.join(EXCHANGES)})")
    return exchanges


def run(args, settings) -> int:
    """List the candidates; with ``--add`` write the new ones unless the plan would not fit."""
    try:
        exchanges = _check(args)
        ctx = Context(settings, resolve_redis_url(settings))
        found = discover(ctx, args.category, args.limit, exchanges, args.min_market_cap, args.exclude_stable)
    except (UsageError, DiscoveryError) as exc:
        print(f"finhub: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
    except (redis.RedisError, RuntimeError) as exc:
        print(f"finhub: Redis unreachable, which keeps the quotas ({str(exc).splitlines()[0]})", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(_as_json(found), indent=1))
    else:
        _print_table(found)
    notes = sys.stderr if args.json else sys.stdout
    configured = _configured_stocks(settings)
    for symbol in found.vanished:
        remedy = (("marked delisted" if args.add else "--add marks it delisted") if symbol in configured
                  else f'a default: remove it with assets.remove = ["{symbol}"]')
        print(f"warning: {symbol} is collected but no longer among the active US listings (delisted?): {remedy}",
              file=notes)
    if not args.add:
        return 0
    return _add(found, args, settings, notes)


def _add(found: Discovery, args, settings, out) -> int:
    stocks = [c.entry() for c in found.new if c.kind != "crypto"]
    cryptos = [c.entry() for c in found.new if c.kind == "crypto"]
    today = datetime.now(UTC).date()
    delisted = {s: today for s in found.vanished if s in _configured_stocks(settings)}
    if not stocks and not cryptos and not delisted:
        print("nothing to add: every candidate is collected already", file=out)
        return 0
    assets = dataclasses.replace(settings.assets, stocks=settings.assets.stocks + stocks,
                                 cryptos=settings.assets.cryptos + cryptos)
    universe = build_universe(assets)
    plan = build_plan(dataclasses.replace(settings, assets=assets), universe)
    print(f"\nwith {len(stocks) + len(cryptos)} more the universe holds {len(universe.stocks)} stocks and "
          f"{len(universe.cryptos)} cryptos; `finhub plan` would then say:\n{render(plan)}\n", file=out)
    if not plan.fits and not args.force:
        print("finhub: not added: that universe does not fit the quotas (see the plan above); "
              "list fewer (--limit) or pass --force", file=sys.stderr)
        return 1
    path = Path(args.config or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_FILE)
    try:
        add_assets(path, stocks, cryptos, delisted, check=lambda parsed: _valid(parsed, settings))
    except (OSError, SettingsError) as exc:
        print(f"finhub: {path} unchanged: {exc}", file=sys.stderr)
        return 1
    print(f"added to {path}: {len(stocks)} stocks, {len(cryptos)} cryptos"
          + (f"; marked delisted: {', '.join(sorted(delisted))}" if delisted else ""), file=out)
    return 0


def _configured_stocks(settings) -> set[str]:
    """The stocks finhub.toml adds (the ones ``--add`` can mark delisted)."""
    return {str(e.get("symbol")) for e in settings.assets.stocks if isinstance(e, dict)}


def _valid(parsed: dict, settings) -> None:
    """The new file's assets must make a universe (the same checks as at start-up)."""
    section = parsed.get("assets", {})
    build_universe(dataclasses.replace(settings.assets, **{k: section.get(k, []) for k in ("remove", "stocks",
                                                                                            "cryptos")}))


def _as_json(found: Discovery) -> dict:
    return {"category": found.category,
            "candidates": [{**dataclasses.asdict(c), "entry": c.entry()} for c in found.candidates],
            "skipped": [{"symbol": s, "reason": r} for s, r in found.skipped], "vanished": found.vanished}


def _money(value: float | None) -> str:
    if value is None:
        return "-"
    for size, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:.0f}"


def _row(i: int, c: Candidate) -> str:
    state = "collected" if c.collected else "new"
    if c.kind == "crypto":
        return (f"{c.rank or i:>5} {c.symbol:10} {c.name[:28]:28} {c.coingecko_id or '-':28} {c.yahoo or '-':14} "
                f"{_money(c.market_cap):>9} {_money(c.volume):>9}  {state}")
    return f"{i:>5} {c.symbol:10} {c.name[:40]:40} {c.exchange or '-':10} {c.kind:6} {state}"


def _print_table(found: Discovery) -> None:
    if found.category == "crypto":
        print(f"{'rank':>5} {'symbol':10} {'name':28} {'coingecko id':28} {'yahoo':14} {'mkt cap':>9} "
              f"{'volume':>9}  state")
    else:
        print(f"{'#':>5} {'symbol':10} {'name':40} {'exchange':10} {'type':6} state")
    for i, candidate in enumerate(found.candidates, start=1):
        print(_row(i, candidate))
    new = len(found.new)
    print(f"\n{len(found.candidates)} {found.category} listed: {new} new, {len(found.candidates) - new} collected"
          + (" (alphabetical: the listings carry no rank)" if found.category != "crypto" else ""))
    if found.skipped:
        reasons: dict[str, list[str]] = {}
        for symbol, reason in found.skipped:
            reasons.setdefault(reason, []).append(symbol)
        for reason, symbols in reasons.items():
            shown = ", ".join(symbols[:8]) + (f" and {len(symbols) - 8} more" if len(symbols) > 8 else "")
            print(f"skipped ({reason}): {shown}")

