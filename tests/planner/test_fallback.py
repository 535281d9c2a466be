"""Fallback chains over real Redis budgets and breakers, with scripted providers behind the interface.

Budgets and breakers read one fake clock, which stands still unless a test steps it: a window or
cool-down never passes by accident on a slow machine.
"""

import dataclasses
from datetime import UTC, datetime

import pytest

from finhub.config import BreakerSettings, QuotaSettings, load_settings
from finhub.model import Observation
from finhub.planner.breaker import Breakers, State
from finhub.planner.fallback import fetch_quotes
from finhub.planner.quota import ARRIVAL_MARGIN_MS, Purpose, Quotas
from finhub.universe import build_universe
from providers import metering
from providers.base import BadSymbol, Provider, Quotes, RateLimited, Unavailable
from tests.clock import FakeClock
from tests.planner.helpers import used

UNIVERSE = build_universe()
STOCKS = UNIVERSE.stocks[:6]


class Scripted(Provider):
    """A provider whose answers the test decides: a price for everything, or an error."""

    serves = frozenset()

    def __init__(self, name, batch_size, fail=None, unknown=(), serves_symbols=None):
        self.name, self.batch_size = name, batch_size
        self.fail, self.unknown, self.serves_symbols = fail, set(unknown), serves_symbols
        self.calls = 0

    def supports(self, asset):
        return self.serves_symbols is None or asset.symbol in self.serves_symbols

    def quote_batch(self, assets):
        metering.admit(self.name)  # one request a call, reserved as the metered transports do
        self.calls += 1
        if self.fail:
            raise self.fail
        now = datetime.now(UTC)
        out = Quotes()
        for a in assets:
            if a.symbol in self.unknown:
                out.errors[a.symbol] = BadSymbol(self.name, a.symbol)
            else:
                out.observations.append(Observation(a.symbol, a.asset_type, 100.0, now, self.name, now))
        return out

    def history(self, asset, interval, start, end):
        raise NotImplementedError


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def planner(redis_client, clock):
    quotas = Quotas(redis_client, {"yahoo": QuotaSettings(per_minute=60, concurrency=1),
                                   "alphavantage": QuotaSettings(per_second=1, per_minute=5, per_day=25)},
                    clock=clock)
    breakers = Breakers(redis_client, BreakerSettings(failures=2, cooldown=60), clock=clock)
    return quotas, breakers


def test_primary_serves_everything_in_one_call(planner):
    yahoo, av = Scripted("yahoo", 50), Scripted("alphavantage", 1)
    got = fetch_quotes(STOCKS, ["yahoo", "alphavantage"], {"yahoo": yahoo, "alphavantage": av}, *planner)
    assert {o.symbol for o in got.observations} == {a.symbol for a in STOCKS}
    assert {o.provider for o in got.observations} == {"yahoo"}
    assert (yahoo.calls, av.calls) == (1, 0) and not got.pending and got.retry_after is None


def test_failing_primary_falls_back_within_the_fallback_budget_and_keeps_the_rest(planner):
    quotas, breakers = planner
    yahoo = Scripted("yahoo", 50, fail=RateLimited("yahoo", "HTTP 429", retry_after=30))
    av = Scripted("alphavantage", 1)
    got = fetch_quotes(STOCKS, ["yahoo", "alphavantage"], {"yahoo": yahoo, "alphavantage": av}, quotas, breakers)
    assert [o.provider for o in got.observations] == ["alphavantage"]  # 1 call a second
    assert len(got.pending) == len(STOCKS) - 1 and 0 < got.retry_after <= 1.01 + ARRIVAL_MARGIN_MS / 1000
    assert "per_second" in got.skipped["alphavantage"] and "429" in got.skipped["yahoo"]
    assert used(quotas, "alphavantage", "per_minute") == 1


def test_breaker_opens_and_the_primary_is_skipped(planner):
    quotas, breakers = planner
    yahoo = Scripted("yahoo", 50, fail=Unavailable("yahoo", "HTTP 503"))
    av = Scripted("alphavantage", 1)
    for _ in range(2):
        fetch_quotes(STOCKS[:1], ["yahoo", "alphavantage"], {"yahoo": yahoo, "alphavantage": av}, quotas, breakers)
    assert breakers.health("yahoo").state == State.OPEN and yahoo.calls == 2
    got = fetch_quotes(STOCKS[:1], ["yahoo"], {"yahoo": yahoo}, quotas, breakers)
    assert yahoo.calls == 2 and got.skipped["yahoo"] == "breaker open"
    assert got.pending == STOCKS[:1] and got.retry_after > 50  # come back after the cool-down


def test_unknown_symbol_goes_to_the_next_provider_and_is_rejected_when_none_knows_it(planner):
    yahoo = Scripted("yahoo", 50, unknown={"AAPL", "MSFT"})
    av = Scripted("alphavantage", 2, unknown={"MSFT"})
    got = fetch_quotes(STOCKS[:2], ["yahoo", "alphavantage"], {"yahoo": yahoo, "alphavantage": av}, *planner)
    assert [(o.symbol, o.provider) for o in got.observations] == [("AAPL", "alphavantage")]
    assert [e.provider for e in got.rejected["MSFT"]] == ["yahoo", "alphavantage"]
    assert not got.pending


def test_assets_no_provider_serves_are_rejected_not_retried(planner):
    yahoo = Scripted("yahoo", 50, serves_symbols={"AAPL"})
    got = fetch_quotes(STOCKS[:2], ["yahoo"], {"yahoo": yahoo}, *planner)
    assert [o.symbol for o in got.observations] == ["AAPL"]
    assert got.rejected == {"MSFT": []} and not got.pending


def test_budget_spent_everywhere_leaves_everything_pending(planner):
    quotas, breakers = planner
    for _ in range(60):
        quotas.reserve("yahoo", Purpose.FALLBACK)
    yahoo = Scripted("yahoo", 50)
    got = fetch_quotes(STOCKS, ["yahoo"], {"yahoo": yahoo}, quotas, breakers)
    assert yahoo.calls == 0 and got.pending == STOCKS and 0 < got.retry_after <= 60.01 + ARRIVAL_MARGIN_MS / 1000
    assert got.throttled


def test_no_free_slot_spends_no_budget_anywhere_and_asks_to_come_back(planner):
    quotas, breakers = planner
    yahoo, av = Scripted("yahoo", 50), Scripted("alphavantage", 1)
    with quotas.slot("yahoo") as held:  # another worker's call in flight
        assert held
        got = fetch_quotes(STOCKS, ["yahoo", "alphavantage"], {"yahoo": yahoo, "alphavantage": av}, quotas, breakers)
    assert (yahoo.calls, av.calls) == (0, 0) and used(quotas, "yahoo", "per_minute") == 0
    assert got.pending == STOCKS and got.throttled and 0 < got.retry_after <= 1


def test_a_short_pause_of_the_primary_spares_the_fallback_budget(redis_client, clock):
    # A 5 s spacing: the second walk comes within it (the clock stands still until stepped).
    quotas = Quotas(redis_client, {"coingecko": QuotaSettings(per_minute=5, min_spacing=5.0),
                                   "alphavantage": QuotaSettings(per_day=25)}, clock=clock)
    breakers = Breakers(redis_client, BreakerSettings(failures=2, cooldown=60), clock=clock)
    cryptos = UNIVERSE.cryptos[:2]
    coingecko, av = Scripted("coingecko", 250), Scripted("alphavantage", 1)
    providers = {"coingecko": coingecko, "alphavantage": av}
    assert fetch_quotes(cryptos, ["coingecko", "alphavantage"], providers, quotas, breakers).observations
    got = fetch_quotes(cryptos, ["coingecko", "alphavantage"], providers, quotas, breakers)  # within the spacing
    assert (coingecko.calls, av.calls) == (1, 0) and used(quotas, "alphavantage", "per_day") == 0
    # pyrate-limiter asks for 1 ms past the window, whose end it counts inclusively.
    assert got.pending == cryptos and got.throttled and 0 < got.retry_after <= 5.01 + ARRIVAL_MARGIN_MS / 1000
    clock.advance(got.retry_after)  # coming back when told, the primary answers again
    assert fetch_quotes(cryptos, ["coingecko", "alphavantage"], providers, quotas, breakers).observations
    assert (coingecko.calls, av.calls) == (2, 0)


@pytest.mark.parametrize("priority, validation, fallback_at_least, crosschecks_at_most", [
    (None, None, 15, 10),                                      # the default: stock fallback first
    (["validation", "fallback"], 0.4, 0, 25),                  # cross-checks first: they keep 10
])
def test_alpha_vantage_priority_between_stock_fallback_and_cross_checks_with_yahoo_down(
        redis_client, clock, priority, validation, fallback_at_least, crosschecks_at_most):
    """Yahoo down for a day: the crypto cross-checks it served go to Alpha Vantage every 2 minutes from
    midnight, the stock quotes fall back there once NYSE opens; its 25 calls are split by the order."""
    av_quota = load_settings(environ={}).providers.alphavantage.quota
    if priority:
        av_quota = dataclasses.replace(av_quota, priority=priority, validation=validation)
    quotas = Quotas(redis_client, {"yahoo": QuotaSettings(), "alphavantage": av_quota}, clock=clock)
    breakers = Breakers(redis_client, BreakerSettings(failures=2, cooldown=600), clock=clock)
    providers = {"yahoo": Scripted("yahoo", 50, fail=Unavailable("yahoo", "HTTP 503")),
                 "alphavantage": Scripted("alphavantage", 1)}
    served = {"fallback": 0, "validation": 0}
    for minute in range(0, 24 * 60, 2):
        clock.advance(60)
        served["validation"] += len(fetch_quotes([UNIVERSE["BTC"]], ["yahoo", "alphavantage"], providers, quotas,
                                                 breakers, purpose=Purpose.VALIDATION).observations)
        clock.advance(60)
        if minute >= 14 * 60 + 30:  # NYSE open
            served["fallback"] += len(fetch_quotes(STOCKS[:1], ["yahoo", "alphavantage"], providers, quotas,
                                                   breakers).observations)
    assert sum(served.values()) == 25 == used(quotas, "alphavantage", "per_day")
    assert served["fallback"] >= fallback_at_least and served["validation"] <= crosschecks_at_most
    if priority:  # the cross-checks came first and may take it all
        assert served["fallback"] == 0


def test_requests_that_never_connect_are_handed_back_and_open_the_breaker_at_once(redis_client, clock):
    """Offline (nothing listens): CoinGecko's 5 a minute are not spent on connections that never
    happened, so the breaker sees its 5 failures in as many calls rather than after a minute."""
    import socket

    from providers.coingecko import CoinGeckoProvider

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # free once closed: a refused connection
    coingecko = CoinGeckoProvider(f"http://127.0.0.1:{closed}/api/v3/", timeout=1.0)
    quotas = Quotas(redis_client, {"coingecko": QuotaSettings(per_minute=5, min_spacing=1.0)}, clock=clock)
    breakers = Breakers(redis_client, BreakerSettings(failures=5, cooldown=60), clock=clock)
    for _ in range(5):
        clock.advance(1.0)
        got = fetch_quotes([UNIVERSE["BTC"]], ["coingecko"], {"coingecko": coingecko}, quotas, breakers)
        assert "connection refused" in got.skipped["coingecko"]
    assert used(quotas, "coingecko", "per_minute") == 0
    assert breakers.health("coingecko").state == State.OPEN
