"""Cross-checks: a second provider's price for the primary's, judged by :func:`finhub.validation.decide`.

:func:`validate_batch` takes the quotes a quote actor fetched. It asks the rest of the asset type's
fallback chain (without the primary's provider) for a second price, on the validation budget:

- crypto: every quote (``validation.crosscheck_crypto``);
- stocks: ``validation.stock_spot_checks`` per batch, the ones spot-checked longest ago first (the
  rotation is a sorted set in Redis, shared by every worker), and always the ones that would be a
  jump from the last good price (the confirming call, asked first);
- any asset whose quote would be a jump.

It judges each asset against its last stored price. When two sources disagree and the last good
price does not settle it, the next provider of the chain, within budget, is asked for a third
price. The verdicts are written in one transaction.
A second price that cannot be had (budget spent, breaker open, provider failing) never blocks the
store: the quote is judged alone, so it is stored single-source unless something looks wrong.

:func:`sweep` gives the newest single-source quote of each asset of the last hour a second look.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from finhub.logs import get_logger
from finhub.model import Asset, AssetType, Observation
from finhub.planner.fallback import DEFAULT_RETRY_AFTER, fetch_quotes
from finhub.planner.quota import Purpose
from finhub.runtime.context import Context
from finhub.storage import latest_prices, single_source_rows, store_judged
from finhub.validation import Decision, LastGood, Reason, Status, decide
from finhub.validation.heartbeat import stale_before

log = get_logger(__name__)

#: Sorted set: stock symbol -> POSIX time of its last spot check (the rotation through the universe).
SPOT_CHECKED_KEY = "finhub:validation:spot_checked"
#: How far back the sweep looks for single-source rows.
SWEEP_WINDOW = timedelta(hours=1)
#: Seconds between two tries for a concurrency slot taken by a call in flight (calls take ~10-100 ms).
SLOT_POLL = 0.05
#: Market times this close are one moment: the sweep moves a row only on disagreement within it.
SAME_MOMENT = timedelta(minutes=2)


def validate_batch(ctx: Context, observations: Iterable[Observation], now: datetime | None = None) -> list[Decision]:
    """Cross-check, judge and store a batch of primary quotes; returns one decision per asset."""
    now = now or datetime.now(UTC)
    primaries = _newest_per_symbol(observations)
    if not primaries:
        return []
    policy = ctx.validation_policy
    latest = latest_prices(ctx.engine, "quote", list(primaries), columns=["price", "timestamp", "validation_status"])
    last_good = {symbol: LastGood(row["price"], row["timestamp"]) for symbol, row in latest.items()}
    jumps = {s for s, o in primaries.items()
             if s in last_good and _is_jump(o.price, last_good[s].price, policy.limits(s, o.asset_type).jump)}
    wanted, spot = _to_crosscheck(ctx, primaries, jumps, now)
    observed = {symbol: [primary] for symbol, primary in primaries.items()}
    until = time.monotonic() + ctx.settings.validation.crosscheck_wait  # one bound for the whole batch
    _add(observed, _more_opinions(ctx, [observed[s] for s in wanted], until))
    _add(observed, _more_opinions(ctx, [observed[s] for s in spot], until, Purpose.SPOT_CHECK))
    checked = [s for s in spot if len(observed[s]) > 1]  # a refused check keeps its place in the rotation
    if checked:  # microseconds apart, in the order checked, so ties never favour the same symbols
        ctx.redis.zadd(SPOT_CHECKED_KEY, {s: now.timestamp() + i / 1e6 for i, s in enumerate(checked)})

    def judge(symbol: str) -> Decision:
        return decide(observed[symbol], primary=primaries[symbol].provider, now=now,
                      last_good=last_good.get(symbol), policy=policy)

    verdicts = {symbol: judge(symbol) for symbol in primaries}
    # Two sources disagree: a third one, when the chain has one within budget, breaks the tie.
    disputed = [s for s, d in verdicts.items() if d.reason == Reason.DISAGREEMENT]
    _add(observed, _more_opinions(ctx, [observed[s] for s in disputed], until))
    verdicts.update((s, judge(s)) for s in disputed)
    decisions = list(verdicts.values())
    for d in decisions:
        if d.status != Status.QUARANTINED and d.outliers:
            log.warning("source set aside", symbol=d.symbol, outliers=list(d.outliers), detail=d.detail)
    store_judged(ctx.engine, [price_row(d) for d in decisions
                              if d.status != Status.QUARANTINED and not _validated_before(latest.get(d.symbol), d)],
                 [quarantine_row(d) for d in decisions if d.status == Status.QUARANTINED])
    return decisions


def sweep(ctx: Context, now: datetime | None = None) -> Counter:
    """Re-examine each asset's newest single-source quote of the last hour, when budget allows.

    Rows already stale at ``now`` are left alone (no call is spent on them). A price from another
    provider upgrades a row to validated when they agree. A row moves to the quarantine (delete and
    insert, one transaction) only on evidence from the same moment: the other prices' market times
    within :data:`SAME_MOMENT` of the row's, and still disagreeing once a third source, when the
    chain has one within budget, had its say; prices from a later moment may differ because the
    market moved. Idempotent: validated and moved rows are no longer single-source. Returns counts
    by outcome.
    """
    now = now or datetime.now(UTC)
    policy = ctx.validation_policy
    rows = [r for r in single_source_rows(ctx.engine, now - SWEEP_WINDOW) if r["symbol"] in ctx.universe]
    primaries = {r["symbol"]: _observation(r) for r in rows}
    current = {s: o for s, o in primaries.items()
               if o.timestamp >= stale_before(o.asset_type, now, policy.limits(s, o.asset_type).heartbeat)}
    observed = {symbol: [primary] for symbol, primary in current.items()}
    until = time.monotonic() + ctx.settings.validation.crosscheck_wait
    _add(observed, _more_opinions(ctx, list(observed.values()), until, Purpose.SPOT_CHECK))

    def judge(symbol: str) -> Decision:
        return decide(observed[symbol], primary=current[symbol].provider, now=now, policy=policy)

    def same_moment(symbol: str) -> bool:
        return all(abs(o.timestamp - current[symbol].timestamp) <= SAME_MOMENT for o in observed[symbol])

    checked = [s for s, group in observed.items() if len(group) > 1]
    verdicts = {s: judge(s) for s in checked}
    disputed = [s for s, d in verdicts.items() if d.reason == Reason.DISAGREEMENT and same_moment(s)]
    _add(observed, _more_opinions(ctx, [observed[s] for s in disputed], until, Purpose.SPOT_CHECK))
    verdicts.update((s, judge(s)) for s in disputed)
    upgraded = [price_row(d) for s, d in verdicts.items()
                if d.status == Status.VALIDATED and d.provider == current[s].provider]
    moved = [quarantine_row(d) for s, d in verdicts.items()
             if d.reason == Reason.DISAGREEMENT and same_moment(s)]
    store_judged(ctx.engine, upgraded, moved, move=True)
    return Counter(examined=len(rows), checked=len(checked), validated=len(upgraded), quarantined=len(moved))


def counts(decisions: Sequence[Decision]) -> str:
    """'N validated, N single-source, N quarantined' for the job record."""
    by_status = Counter(d.status for d in decisions)
    return (f"{by_status[Status.VALIDATED]} validated, {by_status[Status.SINGLE_SOURCE]} single-source, "
            f"{by_status[Status.QUARANTINED]} quarantined")


def price_row(d: Decision) -> dict:
    """The history row of a decision that stores a value, with its provenance: on a validated row
    whose sources disagreed, the source outvoted and its price (``outlier_source``, ``outlier_price``)."""
    o = d.stored
    assert o is not None, "only a decision that stores a value has a history row"
    outvoted = [p for p, reason in d.rejected if reason == Reason.DISAGREEMENT] if d.status == Status.VALIDATED else []
    outlier = next((x for x in d.observations if outvoted and x.provider == outvoted[0]), None)
    return {"symbol": o.symbol, "asset_type": str(o.asset_type), "interval": o.interval, "timestamp": o.timestamp,
            "price": d.value, "open": o.open, "high": o.high, "low": o.low, "volume": o.volume,
            "market_cap": o.market_cap, "source": d.provider, "validation_status": str(d.status),
            "sources": ",".join(d.sources), "max_deviation_pct": d.deviation_pct,
            "outlier_source": outlier.provider if outlier else None,
            "outlier_price": outlier.price if outlier else None}


def quarantine_row(d: Decision) -> dict:
    """The quarantine row of a rejected decision: every source's value, the reason and its detail."""
    first = d.observations[0]
    return {"symbol": d.symbol, "asset_type": str(first.asset_type), "interval": first.interval,
            "timestamp": d.timestamp, "reason": str(d.reason), "detail": d.detail,
            "observations": [{"provider": o.provider, "timestamp": o.timestamp.isoformat(),
                              # JSON has no NaN or infinity: keep such values as text
                              "price": o.price if math.isfinite(o.price) else str(o.price)}
                             for o in d.observations]}


def _validated_before(row: Mapping | None, d: Decision) -> bool:
    """Whether ``d`` judges alone a price already stored as validated (a redelivery, or a price that
    has not moved since): the stored verdict stands."""
    return (d.status == Status.SINGLE_SOURCE and row is not None and row["validation_status"] == "validated"
            and row["timestamp"] == d.timestamp and row["price"] == d.value)


def _newest_per_symbol(observations: Iterable[Observation]) -> dict[str, Observation]:
    newest: dict[str, Observation] = {}
    for o in observations:
        if o.symbol not in newest or o.timestamp > newest[o.symbol].timestamp:
            newest[o.symbol] = o
    return newest


def _is_jump(price: float, last: float, jump: float) -> bool:
    return abs(price - last) > jump * last


def _to_crosscheck(ctx: Context, primaries: Mapping[str, Observation], jumps: set[str],
                   now: datetime) -> tuple[list[str], list[str]]:
    """The symbols worth a second price: jumps first (with a budget of one call each, they go first)
    and cryptos, on the validation budget; then the stocks due a routine spot check, on the smaller
    spot-check share, so that spot checks never spend what a confirming call needs."""
    settings = ctx.settings.validation
    cryptos = [s for s, o in primaries.items() if o.asset_type == AssetType.CRYPTO]
    stocks = sorted(s for s, o in primaries.items() if o.asset_type == AssetType.STOCK and s not in jumps)
    wanted = sorted(jumps) + [s for s in cryptos if s not in jumps and settings.crosscheck_crypto]
    if stocks and settings.stock_spot_checks:
        last_checked = ctx.redis.zmscore(SPOT_CHECKED_KEY, stocks)
        by_age = sorted(zip(stocks, last_checked), key=lambda pair: (pair[1] or -math.inf, pair[0]))
        return wanted, [s for s, _ in by_age[:settings.stock_spot_checks]]
    return wanted, []


def _more_opinions(ctx: Context, groups: Sequence[Sequence[Observation]], until: float,
                   purpose: Purpose = Purpose.VALIDATION) -> dict[str, list[Observation]]:
    """One more quote per asset from the rest of its chain (the providers not in its group yet, the
    primary first in the group), on ``purpose``'s budget, keyed by symbol; a pause of the budget is
    waited for until ``until`` (``time.monotonic()``)."""
    by_chain: dict[tuple[str, ...], list[Asset]] = {}
    for group in groups:
        primary = group[0]
        if primary.symbol not in ctx.universe:
            continue
        asked = {o.provider for o in group}
        chain = ctx.settings.fallback.stock_quote if primary.asset_type == AssetType.STOCK \
            else ctx.settings.fallback.crypto_quote
        rest = tuple(p for p in chain if p not in asked)
        if rest:
            by_chain.setdefault(rest, []).append(ctx.universe[primary.symbol])
    more: dict[str, list[Observation]] = {}
    for others, assets in by_chain.items():
        for o in _fetch_waiting(ctx, assets, others, purpose, until):
            more.setdefault(o.symbol, []).append(o)
    return more


def _fetch_waiting(ctx: Context, assets: list[Asset], chain: tuple[str, ...], purpose: Purpose,
                   until: float) -> list[Observation]:
    """Quotes for ``assets`` from ``chain`` on ``purpose``'s budget, waiting (as the quote path
    re-queues) while the budget has room again before ``until`` (``time.monotonic()``): a per-second
    window, the spacing or a busy slot taken by the quote call of the same second is a pause, not a
    reason to store a price unchecked. A longer wait leaves the price single-source, for the sweep
    to check later."""
    observations: list[Observation] = []
    while True:
        fetched = fetch_quotes(assets, chain, ctx.providers, ctx.quotas, ctx.breakers, purpose=purpose)
        observations += fetched.observations
        if not fetched.pending:
            return observations
        wait = SLOT_POLL if fetched.busy else (
            fetched.retry_after if fetched.retry_after is not None else DEFAULT_RETRY_AFTER)
        if not fetched.throttled or time.monotonic() + wait > until:
            log.info("no further price within budget", symbols=[a.symbol for a in fetched.pending],
                     why=fetched.skipped)
            return observations
        time.sleep(wait)
        assets = fetched.pending


def _add(observed: dict[str, list[Observation]], more: Mapping[str, list[Observation]]) -> None:
    for symbol, extra in more.items():
        observed[symbol] += extra


def _observation(row: Mapping) -> Observation:
    """A stored row as the observation it was made from."""
    return Observation(symbol=row["symbol"], asset_type=AssetType(row["asset_type"]), price=row["price"],
                       timestamp=row["timestamp"], provider=row["source"], fetched_at=row["updated_at"],
                       interval=row["interval"], open=row["open"], high=row["high"], low=row["low"],
                       volume=row["volume"], market_cap=row["market_cap"])
