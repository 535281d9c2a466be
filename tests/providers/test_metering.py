"""Every request a client library sends is reserved at the transport, refused ones fail fast inside the
library call, and a provider that failed once in a call gets no further request from it."""

import time
from dataclasses import dataclass

import pytest

from finhub.config import Secret
from providers import metering
from providers.base import BudgetRefused, RateLimited, Unavailable
from providers.coingecko import CoinGeckoProvider
from providers.yahoo import YahooProvider
from tests.providers.conftest import TIMEOUT, UNIVERSE


@dataclass
class Answer:
    granted: bool
    retry_after: float = 0.0
    window: str | None = None


class Allowance:
    """A budget granting ``n`` requests, then refusing with a per-second pause."""

    def __init__(self, n: int = 1000) -> None:
        self.left, self.asked = n, 0

    def __call__(self) -> Answer:
        self.asked += 1
        if self.left <= 0:
            return Answer(False, 0.4, "per_second")
        self.left -= 1
        return Answer(True)


def requests_seen(sandbox, provider: str) -> int:
    return sum(sandbox.calls().get(provider, {}).values())


def test_every_yahoo_request_is_reserved_cookie_and_crumb_included(sandbox, yahoo):
    yahoo._forget_crumb(yahoo._data())  # as after a failed call: the handshake comes again
    allowance = Allowance()
    with metering.budget("yahoo", allowance) as spent:
        assert yahoo.quotes([UNIVERSE["AAPL"]]).observations
    assert spent.sent == requests_seen(sandbox, "yahoo") > 1  # cookie, crumb and quote, each reserved


def test_a_refused_request_is_not_sent_and_fails_fast_inside_the_library(sandbox, yahoo):
    yahoo._forget_crumb(yahoo._data())
    started = time.monotonic()
    with pytest.raises(BudgetRefused) as info, metering.budget("yahoo", Allowance(1)):
        yahoo.quotes([UNIVERSE["AAPL"]])
    assert time.monotonic() - started < TIMEOUT
    assert info.value.category == "retry_later" and info.value.window == "per_second"
    assert info.value.retry_after == 0.4
    assert requests_seen(sandbox, "yahoo") == 1  # the cookie request; the crumb request was refused


def test_a_failing_yahoo_gets_no_retries_or_cookie_strategy_flips(sandbox, yahoo):
    yahoo._forget_crumb(yahoo._data())
    sandbox.configure("yahoo", error_rate=1.0)
    allowance = Allowance()
    with pytest.raises(Unavailable), metering.budget("yahoo", allowance) as spent:
        yahoo.quotes([UNIVERSE["AAPL"]])
    # The crumb request failed (after the fc.yahoo.com cookie, whose answer yfinance ignores, when it
    # holds none): nothing after it, where yfinance alone flips its cookie strategy and sends about ten.
    assert spent.sent == requests_seen(sandbox, "yahoo") <= 2
    assert sandbox.calls()["yahoo"]["/v1/test/getcrumb"] == 1 and "/v7/finance/quote" not in sandbox.calls()["yahoo"]
    sandbox.configure("yahoo", error_rate=0.0)
    with metering.budget("yahoo", allowance):
        assert yahoo.quotes([UNIVERSE["AAPL"]]).observations  # the failure stayed in its call


def test_a_rate_limited_history_call_stops_at_the_429(sandbox, yahoo):
    sandbox.configure("yahoo", quotas={"per_minute": 0})
    with pytest.raises(RateLimited), metering.budget("yahoo", Allowance()) as spent:
        yahoo.quotes([UNIVERSE["MSFT"]])
    assert spent.sent == requests_seen(sandbox, "yahoo") <= 2


def test_requests_outside_a_budget_or_for_another_provider_are_not_metered(sandbox, yahoo, coingecko):
    allowance = Allowance(0)
    with metering.budget("yahoo", allowance):
        assert coingecko.quotes([UNIVERSE["BTC"]]).observations
    assert allowance.asked == 0
    assert yahoo.quotes([UNIVERSE["AAPL"]]).observations


@pytest.mark.parametrize("plan, header, host", [("demo", "x-cg-demo-api-key", "api.coingecko.com"),
                                                ("pro", "x-cg-pro-api-key", "pro-api.coingecko.com")])
def test_coingecko_key_travels_in_its_plans_header_to_its_plans_host(plan, header, host):
    provider = CoinGeckoProvider(api_key=Secret("CG-KEY-123"), plan=plan)
    assert provider.client.api_base_url == f"https://{host}/api/v3/"
    assert provider.client.session.headers[header] == "CG-KEY-123"
    assert provider.client.extra_params is None  # never in the URL's query


def test_coingecko_without_a_key_is_keyless_on_the_public_host():
    provider = CoinGeckoProvider(plan="pro")
    assert provider.client.api_base_url == "https://api.coingecko.com/api/v3/"
    assert not {"x-cg-demo-api-key", "x-cg-pro-api-key"} & set(provider.client.session.headers)


def test_the_production_yahoo_session_is_a_metered_curl_cffi_one():
    provider = YahooProvider(cache_dir="/tmp/finhub-yf-cache-test")
    from curl_cffi import requests as curl_requests
    assert isinstance(provider.session, curl_requests.Session)
    assert isinstance(provider.session, metering.MeteredCurlSession)


def test_a_refused_quote_request_keeps_the_crumb_fetched_before_it(sandbox, yahoo):
    yahoo._forget_crumb(yahoo._data())
    with pytest.raises(BudgetRefused), metering.budget("yahoo", Allowance(1)):
        yahoo.quotes([UNIVERSE["AAPL"]])  # the crumb request passes, the quote's is refused
    with metering.budget("yahoo", Allowance(1)) as spent:  # one request is enough now: the quote
        assert yahoo.quotes([UNIVERSE["AAPL"]]).observations
    assert spent.sent == 1
