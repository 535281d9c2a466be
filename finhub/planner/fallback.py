"""Fetch through a fallback chain: each provider in turn, within its budget, while its breaker allows.

:func:`fetch_quotes` walks the configured chain for a kind of data. A provider is skipped when its
breaker is open, its budget for the purpose is spent, or it has no name for the asset. What the
first provider could not serve goes to the next. Whatever no provider could serve now comes back
as ``pending`` with the earliest moment worth trying again, so the caller re-queues it: nothing is
lost and nothing is called over quota.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from finhub.logs import get_logger
from finhub.model import Asset, Observation
from finhub.planner.breaker import Breakers
from finhub.planner.quota import Purpose, Quotas
from providers import _http
from providers.base import BudgetRefused, Provider, ProviderError, Quotes, RateLimited, RetryLater

log = get_logger(__name__)

#: Seconds to wait when a provider failed without saying for how long.
DEFAULT_RETRY_AFTER = 30.0
#: One provider call for a batch of assets (by default ``Provider.quotes``).
Call = Callable[[Provider, list[Asset]], Quotes]
#: Windows whose refusal is a pause of a second or so, not a spent budget (nor is a busy concurrency
#: slot): wait for the provider rather than spend the next one's (bench_quota saw CoinGecko's 1 s
#: spacing send cryptos to Alpha Vantage, whose 25 calls a day the stocks needed while Yahoo was down).
PAUSE_WINDOWS = frozenset({"per_second", "min_spacing"})


@dataclass
class Fetched:
    """What a walk down the chain produced."""

    observations: list[Observation] = field(default_factory=list)
    #: symbol -> the errors of every provider asked, when none could price it (empty: none serves it)
    rejected: dict[str, list[ProviderError]] = field(default_factory=dict)
    #: assets no provider could serve now (breaker open, budget spent, provider failing)
    pending: list[Asset] = field(default_factory=list)
    #: seconds until a pending asset is worth trying again
    retry_after: float | None = None
    #: why each provider was skipped or failed, for logs and status
    skipped: dict[str, str] = field(default_factory=dict)
    #: a provider had no room now (budget or concurrency): re-queue after ``retry_after``, do not back off
    throttled: bool = False
    #: a provider asked for a short pause (see PAUSE_WINDOWS): the rest of the chain was not asked
    paused: bool = False
    #: the pause is a busy concurrency slot: free again as soon as a call in flight ends
    busy: bool = False

    def wait(self, seconds: float | None) -> None:
        seconds = DEFAULT_RETRY_AFTER if seconds is None else max(seconds, 0.1)
        self.retry_after = seconds if self.retry_after is None else min(self.retry_after, seconds)


def fetch_quotes(
    assets: Sequence[Asset],
    chain: Sequence[str],
    providers: Mapping[str, Provider],
    quotas: Quotas,
    breakers: Breakers,
    purpose: Purpose = Purpose.QUOTES,
    call: Call | None = None,
) -> Fetched:
    """Quotes for ``assets`` from the first provider in ``chain`` able to serve each one.

    The chain's first provider spends ``purpose``'s budget; the others spend the fallback reserve
    (for validation, the caller passes a chain without the primary and ``Purpose.VALIDATION``).
    ``call`` replaces the quote call with another one-call-per-asset request (history bars).
    """
    result = Fetched()
    remaining = list(assets)
    blocked: set[str] = set()  # a provider that serves these could not be asked now
    errors: dict[str, list[ProviderError]] = {}
    for position, name in enumerate(chain):
        provider = providers.get(name)
        if provider is None:
            continue
        served = [a for a in remaining if provider.supports(a)]
        if not served:
            continue
        budget = purpose if position == 0 or purpose != Purpose.QUOTES else Purpose.FALLBACK
        observed, not_asked = _ask(provider, served, budget, quotas, breakers, result, errors, call)
        blocked.update(a.symbol for a in not_asked)
        remaining = [a for a in remaining if a.symbol not in observed]
        if result.paused:
            blocked.update(a.symbol for a in remaining)
            break
    for asset in remaining:
        if asset.symbol in blocked:
            result.pending.append(asset)
        else:  # every provider that serves it was asked and refused it, or none serves it
            result.rejected[asset.symbol] = errors.get(asset.symbol, [])
    if not result.pending:
        result.retry_after = None
    return result


def _ask(provider: Provider, assets: list[Asset], purpose: Purpose, quotas: Quotas, breakers: Breakers,
         result: Fetched, errors: dict[str, list[ProviderError]], call: Call | None = None
         ) -> tuple[set[str], list[Asset]]:
    """Ask one provider, batch by batch. Returns the symbols it priced and the assets not asked."""
    name = provider.name
    settled: set[str] = set()
    if not breakers.allow(name):
        result.skipped[name] = "breaker open"
        result.wait(breakers.health(name).retry_after)
        return settled, assets
    size = 1 if call else provider.batch_size
    batches = [assets[i:i + size] for i in range(0, len(assets), size)]
    for index, batch in enumerate(batches):
        left = [a for b in batches[index:] for a in b]
        # The slot first: a call reserved but then not made would waste the budget.
        with quotas.slot(name) as held:
            if not held:
                result.skipped[name], result.throttled, result.paused = "concurrency limit", True, True
                result.busy = True
                result.wait(1.0)
                return settled, left
            refused: BudgetRefused | None = None
            try:
                with quotas.metered(name, purpose):
                    quotes = call(provider, batch) if call else provider.quotes(batch)
            except BudgetRefused as exc:
                failure, refused = None, exc
            except ProviderError as exc:
                failure = exc
            except Exception as exc:  # noqa: BLE001 - an adapter let a library error through: classify it
                failure = _http.from_exception(name, exc)
                log.warning("unclassified provider error (classified here)", provider=name,
                            exception=type(exc).__name__, error=str(failure))
            else:
                failure = None
            if refused is not None:  # the budget refused a request: nothing more was sent
                result.skipped[name], result.throttled = f"{purpose} budget spent ({refused.window})", True
                result.paused = refused.window in PAUSE_WINDOWS
                result.wait(refused.retry_after)
                return settled, left
            if isinstance(failure, RateLimited):
                quotas.record_rate_limited(name)
            if isinstance(failure, RetryLater):
                breakers.record_failure(name, str(failure))
                result.skipped[name] = str(failure)
                result.wait(failure.retry_after)
                log.debug("provider failed, trying the next", provider=name, error=str(failure))
                return settled, left
            if failure is not None:  # the whole answer was unusable, or the request refused
                breakers.record_failure(name, str(failure))
                result.skipped[name] = str(failure)
                log.warning("provider answered garbage, trying the next", provider=name, error=str(failure))
                for asset in batch:
                    errors.setdefault(asset.symbol, []).append(failure)
                continue
        breakers.record_success(name)
        result.observations += quotes.observations
        settled.update(o.symbol for o in quotes.observations)
        for symbol, error in quotes.errors.items():
            errors.setdefault(symbol, []).append(error)
    return settled, []
