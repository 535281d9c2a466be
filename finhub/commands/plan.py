"""``python -m finhub plan``: calls the schedule needs from each provider against its quota."""

from __future__ import annotations

from finhub.planner.capacity import build_plan, render
from finhub.universe import build_universe


def register(subparsers) -> None:
    parser = subparsers.add_parser("plan", help="check that the schedule fits every provider's quota")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a month does not fit either")
    parser.set_defaults(func=run)


def run(args, settings) -> int:
    """Print the plan; exit 1 when the schedule does not fit (with ``--strict``, a month included)."""
    universe = build_universe(settings.assets)
    plan = build_plan(settings, universe)
    print(f"universe: {len(universe.stocks)} stocks, {len(universe.cryptos)} cryptos collected "
          f"({len(universe)} configured)\n")
    print(render(plan))
    return 0 if plan.fits and (plan.fits_month or not getattr(args, "strict", False)) else 1
