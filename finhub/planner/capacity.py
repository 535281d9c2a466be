"""Does the schedule fit the providers' quotas? Calls needed per window, by provider and purpose.

Pure arithmetic over the settings and the universe: no Redis, no network. ``python -m finhub plan``
prints :func:`render`; the driver logs the same summary at start-up.

Demand is averaged over each window (a run every 5 minutes costs 12 calls an hour); stock quotes
are counted only while NYSE is open (full rate up to an hour, sessions plus the close capture in a
day or a month), since the quote job makes no call while the market is closed; a single run
larger than a short window is spread over several by the quota reservations, which the table notes.
Fallback demand (a provider serving another's data while that one is down) is shown beside the
plan, as the share of refreshes the fallback budget could serve, but not counted in the verdict:
it only happens while the primary is failing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from finhub.config import QuotaSettings, Settings
from finhub.model import INTRADAY
from finhub.planner.quota import WINDOWS_MS, Purpose
from finhub.universe import Universe
from providers.registry import BY_NAME, PROVIDERS

#: Coins in the top-crypto ranking (one ``coins/markets`` page of up to 250).
TOP_CRYPTOS = 100
#: Windows shown, shortest first, with their length in seconds.
WINDOW_SECONDS = {name: ms / 1000 for name, ms in WINDOWS_MS.items()}


#: Stock quotes are polled only while NYSE is open: a regular session lasts 6.5 hours, plus one
#: refresh just after the close to capture it; any 30 days hold at most 22 sessions.
SESSION_HOURS = 6.5
MAX_SESSIONS_PER_30_DAYS = 22


@dataclass(frozen=True)
class Demand:
    """A job's calls to one provider: ``calls`` each run, a run every ``every`` seconds.

    A job that runs only ``hours_per_day`` on ``days_per_month`` days of 30 (plus
    ``extra_runs_per_day``) counts its full rate in windows up to an hour, and its daily runs in
    longer ones.
    """

    job: str
    provider: str
    purpose: Purpose
    calls: int
    every: float
    hours_per_day: float = 24.0
    extra_runs_per_day: int = 0
    days_per_month: float = 30.0

    def per(self, window: str) -> float:
        seconds = WINDOW_SECONDS[window]
        if seconds <= 3600 or self.hours_per_day >= 24:
            return self.calls * seconds / self.every
        runs_per_day = self.hours_per_day * 3600 / self.every + self.extra_runs_per_day
        return self.calls * runs_per_day * max(1.0, seconds / 86400 * self.days_per_month / 30)


#: Every window but the month: the month only warns (``finhub plan --strict`` refuses it).
SHORT_WINDOWS = tuple(w for w in WINDOW_SECONDS if w != "per_month")
#: What ``plan`` calls each purpose a priority order lists.
PURPOSE_NAMES = {"fallback": "stock fallback", "validation": "cross-checks", "spot_check": "spot checks",
                 "history": "history"}


@dataclass
class ProviderPlan:
    provider: str
    quota: QuotaSettings
    demands: list[Demand] = field(default_factory=list)
    fallback: list[tuple[str, float]] = field(default_factory=list)  # (kind, share of refreshes served)
    #: the provider's plan, where it has several (CoinGecko: keyless, demo, pro)
    plan: str = ""
    #: the providers whose chains fall back to this one
    backs_up: set[str] = field(default_factory=set)

    def total(self, window: str) -> float:
        return sum(d.per(window) for d in self.demands)

    def used_by(self, purpose: Purpose, window: str) -> float:
        return sum(d.per(window) for d in self.demands if d.purpose == purpose)

    def problems(self, windows: tuple[str, ...] = SHORT_WINDOWS) -> list[str]:
        """Why the schedule does not fit this provider in ``windows`` (empty when it fits); the month
        is :meth:`month_problems`."""
        found = []
        for window in windows:
            limit = getattr(self.quota, window)
            if not limit:
                continue
            if self.total(window) > limit:
                found.append(f"needs {self.total(window):,.1f} calls {window.replace('_', ' ')}, quota is {limit:,}")
                continue
            for purpose in Purpose:
                ceiling = max(1, int(limit * self.quota.ceiling(purpose.value)))
                if self.used_by(purpose, window) > ceiling:
                    found.append(f"{purpose} needs {self.used_by(purpose, window):,.1f} calls "
                                 f"{window.replace('_', ' ')}, its share is {ceiling:,}")
        return found

    def month_problems(self) -> list[str]:
        """Why the schedule does not fit this provider's month (30 days)."""
        return self.problems(("per_month",))

    def month_line(self) -> str:
        """The calls the schedule needs in 30 days against the monthly limit, if any."""
        need, limit = self.total("per_month"), self.quota.per_month
        plan = f" ({self.plan} plan)" if self.plan else ""
        if not limit:
            return f"month: needs {need:,.0f} calls; no monthly limit{plan}"
        return f"month: needs {need:,.0f} of {limit:,} calls{plan}, {1 - need / limit:.0%} headroom"

    def priority_line(self) -> str | None:
        """How a scarce provider's budget is split between the purposes of ``quota.priority`` while
        the providers it backs up are down and every purpose wants more than it gets."""
        order = self.quota.priority
        window = next((w for w in ("per_day", "per_month", "per_hour", "per_minute") if getattr(self.quota, w)), None)
        if not order or window is None or not self.backs_up:
            return None
        limit = getattr(self.quota, window)
        parts = []
        for i, purpose in enumerate(order):
            most = max(1, int(limit * self.quota.ceiling(purpose)))
            kept = most if i == len(order) - 1 else int(limit * getattr(self.quota, purpose))
            name = PURPOSE_NAMES.get(purpose, purpose)
            parts.append(f"{name} at most {most}/{limit}" if i == len(order) - 1
                         else f"{name} {kept}/{limit} kept (at most {most})")
        return (f"with {' or '.join(sorted(self.backs_up))} down: " + ", ".join(parts)
                + f" {window.replace('per_', 'a ')}")

    def coverage(self, demand: Demand) -> float:
        """Share of ``demand`` this provider's budget for its purpose could serve (0..1)."""
        share = 1.0
        for window in WINDOW_SECONDS:
            limit = getattr(self.quota, window)
            if limit and demand.per(window):
                ceiling = limit * self.quota.ceiling(demand.purpose.value)
                share = min(share, ceiling / demand.per(window))
        return share

    def notes(self) -> list[str]:
        """Runs larger than a short window: served, but spread out by the reservations."""
        out = []
        for d in self.demands:
            for window, seconds in WINDOW_SECONDS.items():
                limit = getattr(self.quota, window)
                if limit and seconds < d.every and d.calls > limit:
                    spread = math.ceil(d.calls / limit) * seconds
                    out.append(f"{d.job}: {d.calls} calls a run exceed {limit} {window.replace('_', ' ')}; "
                               f"each run is spread over ~{spread:,.0f} s")
        return out


@dataclass
class Plan:
    providers: dict[str, ProviderPlan]

    @property
    def fits(self) -> bool:
        """Every window shorter than a month fits."""
        return not any(p.problems() for p in self.providers.values())

    @property
    def fits_month(self) -> bool:
        return not any(p.month_problems() for p in self.providers.values())


def _enabled(settings: Settings) -> set[str]:
    return {p.name for p in PROVIDERS if p.enabled(settings)}


def batch_size(settings: Settings, provider: str) -> int | None:
    """Symbols per quote call of ``provider``; None when it is not enabled (Alpha Vantage without a key)."""
    entry = BY_NAME[provider]
    return entry.batch_size(settings) if entry.enabled(settings) else None


def _served(universe_assets, provider: str) -> int:
    return sum(1 for a in universe_assets if BY_NAME[provider].serves(a))


#: When the stock quote job calls providers (see :func:`finhub.calendar.stock_quotes_due`).
MARKET_HOURS: dict[str, Any] = {"hours_per_day": SESSION_HOURS, "extra_runs_per_day": 1,
                                "days_per_month": MAX_SESSIONS_PER_30_DAYS}


def build_plan(settings: Settings, universe: Universe) -> Plan:
    """The calls the configured schedule needs from each enabled provider."""
    enabled = _enabled(settings)
    plans = {name: ProviderPlan(name, BY_NAME[name].quota(settings)) for name in sorted(enabled)}
    if "coingecko" in plans:
        plans["coingecko"].plan = settings.providers.coingecko.effective_plan
    schedule, chains = settings.schedule, settings.fallback
    stocks, cryptos = universe.stocks, universe.cryptos

    def chain(kind: str) -> list[str]:
        return [p for p in getattr(chains, kind) if p in enabled]

    def add(job: str, provider: str, purpose: Purpose, calls: int, every: float, **hours) -> None:
        if calls:
            plans[provider].demands.append(Demand(job, provider, purpose, calls, every, **hours))

    def calls(provider: str, assets) -> int:
        return math.ceil(_served(assets, provider) / BY_NAME[provider].batch_size(settings))

    for kind, job, assets, every in (("stock_quote", "stock_quotes", stocks, schedule.stock_quotes),
                                     ("crypto_quote", "crypto_quotes", cryptos, schedule.crypto_quotes)):
        providers = chain(kind)
        if not providers or not assets:
            continue
        primary, others = providers[0], providers[1:]
        hours = MARKET_HOURS if kind == "stock_quote" else {}
        add(job, primary, Purpose.QUOTES, calls(primary, assets), every, **hours)
        for fallback in others:
            plans[fallback].backs_up.add(primary)
            need = Demand(job, fallback, Purpose.FALLBACK, calls(fallback, assets), every, **hours)
            plans[fallback].fallback.append((f"{kind} for {primary}", plans[fallback].coverage(need)))
        if kind == "crypto_quote" and others:  # every crypto quote is cross-checked by a second source
            add("validation", others[0], Purpose.VALIDATION, calls(others[0], assets), every)
        if kind == "stock_quote" and "alphavantage" in others:  # spot checks fill their share
            quota = plans["alphavantage"].quota
            spot_checks = int(quota.per_day * quota.ceiling(Purpose.SPOT_CHECK))
            add("validation", "alphavantage", Purpose.SPOT_CHECK, spot_checks, 86400)

    intraday = [i for i in settings.history.intervals if i in INTRADAY]
    for kind, assets in (("stock_history", stocks), ("crypto_history", cryptos)):
        providers = chain(kind)
        if providers:
            per_asset = _served(assets, providers[0]) * (len(settings.history.intervals) - len(intraday))
            add("history", providers[0], Purpose.HISTORY, per_asset, schedule.history)
            # Intraday bars: a call per asset and interval each run (stocks while NYSE is open).
            hours = MARKET_HOURS if kind == "stock_history" else {}
            add("history_intraday", providers[0], Purpose.HISTORY, _served(assets, providers[0]) * len(intraday),
                schedule.history_intraday, **hours)

    if "coingecko" in enabled:
        add("trending", "coingecko", Purpose.QUOTES, 1, schedule.trending)
        add("top_cryptos", "coingecko", Purpose.QUOTES, math.ceil(TOP_CRYPTOS / 250), schedule.top_cryptos)
    return Plan(plans)


def render(plan: Plan) -> str:
    """The plan as text tables, one per provider, with a verdict each and overall."""
    lines: list[str] = []
    windows = list(WINDOW_SECONDS)
    header = f"  {'':32}" + "".join(f"{w.replace('per_', '/'):>12}" for w in windows)
    for name, p in plan.providers.items():
        lines += [f"{name}", header]
        for purpose in Purpose:
            if any(d.purpose == purpose for d in p.demands):
                jobs = ",".join(sorted({d.job for d in p.demands if d.purpose == purpose}))
                lines.append(f"  {purpose + ' (' + jobs + ')':32.32}"
                             + "".join(f"{p.used_by(purpose, w):12,.1f}" for w in windows))
        lines.append(f"  {'total needed':32}" + "".join(f"{p.total(w):12,.1f}" for w in windows))
        lines.append(f"  {'quota':32}" + "".join(f"{getattr(p.quota, w) or '-':>12,}" if getattr(p.quota, w)
                                                   else f"{'-':>12}" for w in windows))
        lines.append(f"  {'headroom':32}" + "".join(
            f"{(1 - p.total(w) / getattr(p.quota, w)):12.0%}" if getattr(p.quota, w) else f"{'-':>12}"
            for w in windows))
        for kind, share in p.fallback:
            lines.append(f"  fallback: {kind}: its budget serves {share:.1%} of refreshes while that is down")
        priority = p.priority_line()
        if priority:
            lines.append(f"  priority: {priority}")
        lines += [f"  note: {n}" for n in p.notes()]
        lines.append(f"  {p.month_line()}")
        problems, month = p.problems(), p.month_problems()
        lines.append("  verdict: " + ("fits" if not problems else "DOES NOT FIT: " + "; ".join(problems)))
        if month:
            lines.append("  WARNING: the month does not fit: " + "; ".join(month))
        lines.append("")
    lines.append("overall: the schedule fits every quota" if plan.fits and plan.fits_month
                 else "overall: the schedule fits every quota but a month (finhub plan --strict refuses it)"
                 if plan.fits
                 else "overall: the schedule DOES NOT FIT; lengthen intervals, shrink the universe or raise quotas")
    return "\n".join(lines)
