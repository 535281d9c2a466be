"""The failure matrix through the clients users run: failure × provider × client path.

``production``: the real provider URLs (``https://query1.finance.yahoo.com``, ...) through
:class:`~finhub.sandbox.tls.HttpsSandbox` (a CONNECT proxy with a test CA), so Yahoo is reached by
yfinance's own curl_cffi session (browser impersonation included) and CoinGecko and Alpha Vantage by
their ``requests`` calls, exactly as without a base URL. ``base_url``: the plain-HTTP sandbox with a
base URL configured (Yahoo through ``RewriteToBase``); it only sees the faults an HTTP answer can carry.
"""

import tempfile

import pytest
import redis
import requests
from curl_cffi import requests as curl_requests

from finhub.config import BreakerSettings, QuotaSettings, Secret
from finhub.planner.breaker import Breakers, State
from finhub.planner.fallback import fetch_quotes
from finhub.planner.quota import Quotas
from finhub.sandbox import Sandbox
from finhub.sandbox.tls import HttpsSandbox
from finhub.universe import build_universe
from providers import _http
from providers.alphavantage import AlphaVantageProvider
from providers.base import BadData, FixRequest, ProviderError, RateLimited, RetryLater, Unavailable
from providers.coingecko import CoinGeckoProvider
from providers.yahoo import YahooProvider
from tests.redis_dbs import PLANNER_DB

UNIVERSE = build_universe()
TIMEOUT = 1.0
AV_KEY, CG_KEY = "AVTESTKEY8731", "CG-demo-TESTKEY5512"
ASSET = {"yahoo": UNIVERSE["AAPL"], "coingecko": UNIVERSE["BTC"], "alphavantage": UNIVERSE["AAPL"]}
HTML = b"<html><head><title>Oops</title></head><body>maintenance</body></html>"

#: Faults only the proxy can make (no HTTP answer), and what they must become.
CONNECTION_FAULTS = {"dns": Unavailable, "refused": Unavailable, "proxy": Unavailable, "untrusted": Unavailable,
                     "wronghost": Unavailable, "reset": Unavailable, "close": Unavailable}
#: Faults carried by an HTTP answer (sandbox controls), and what they must become.
HTTP_FAULTS = {
    "http_401": ({"status": 401, "body": b'{"error": "unauthorized"}'}, FixRequest),
    "http_403": ({"status": 403, "body": HTML, "content_type": "text/html"}, FixRequest),
    "http_404": ({"status": 404, "body": HTML, "content_type": "text/html"}, FixRequest),
    "http_429": ({"status": 429, "body": HTML, "content_type": "text/html"}, RateLimited),
    "http_500": ({"status": 500, "body": HTML, "content_type": "text/html"}, Unavailable),
    "http_503": ({"status": 503, "body": b"", "content_type": "text/plain"}, Unavailable),
    "html": ({"status": 200, "body": HTML, "content_type": "text/html"}, BadData),
    "empty": ({"status": 200, "body": b""}, BadData),
}


@pytest.fixture(scope="module")
def https_sandbox():
    with Sandbox() as sb, HttpsSandbox(sb, hang_for=TIMEOUT * 4) as hs, pytest.MonkeyPatch.context() as mp:
        for name, value in hs.env().items():
            mp.setenv(name, value)
        yield hs


@pytest.fixture
def hs(https_sandbox):
    https_sandbox.clear()
    https_sandbox.sandbox.reset()
    yield https_sandbox
    https_sandbox.clear()
    https_sandbox.sandbox.reset()


@pytest.fixture
def fresh_yfinance():
    """yfinance as a new process has it: its ``YfData`` singleton built anew, with its own curl_cffi
    session (which reads the CA bundle from the environment when built)."""
    from yfinance.data import SingletonMeta, YfData

    SingletonMeta._instances.pop(YfData, None)
    yield
    SingletonMeta._instances.pop(YfData, None)


def build(provider: str, path: str, hs: HttpsSandbox):
    sb = hs.sandbox
    if provider == "yahoo":
        return YahooProvider(sb.url if path == "base_url" else None, timeout=TIMEOUT,
                             cache_dir=tempfile.mkdtemp(prefix="yf-cache-"))
    if provider == "coingecko":
        return CoinGeckoProvider(sb.coingecko_url if path == "base_url" else None, Secret(CG_KEY), "demo",
                                 timeout=TIMEOUT)
    return AlphaVantageProvider(Secret(AV_KEY), sb.alphavantage_url if path == "base_url" else None,
                                timeout=TIMEOUT)


def outcome(provider, asset) -> ProviderError:
    """The error one quote call ended with: raised for the whole call, or reported for the symbol."""
    try:
        got = provider.quotes([asset])
    except ProviderError as exc:
        return exc
    assert not got.observations, f"a fault served a price: {got.observations}"
    assert asset.symbol in got.errors
    return got.errors[asset.symbol]


def check_clean(error: ProviderError) -> None:
    text = str(error)
    assert AV_KEY not in text and CG_KEY not in text, text


def client_of(provider: str, path: str) -> str:
    return "curl_cffi" if provider == "yahoo" and path == "production" else "requests"


PROVIDERS = ("yahoo", "coingecko", "alphavantage")


def test_production_path_uses_the_real_clients_and_hosts(hs, fresh_yfinance):
    from yfinance.data import YfData

    yahoo = build("yahoo", "production", hs)
    assert isinstance(yahoo.session, curl_requests.Session)  # finhub's metered one, yfinance's kind
    for name in PROVIDERS:
        got = build(name, "production", hs).quotes([ASSET[name]])
        assert [o.provider for o in got.observations] == [name], got.errors
    assert isinstance(YfData()._session, curl_requests.Session)
    assert {"query1.finance.yahoo.com", "api.coingecko.com", "www.alphavantage.co"} <= set(hs.connects)


@pytest.mark.parametrize("fault", list(CONNECTION_FAULTS))
@pytest.mark.parametrize("provider", PROVIDERS)
def test_connection_faults_through_the_production_clients(hs, fresh_yfinance, provider, fault):
    adapter = build(provider, "production", hs)
    hs.fault(provider, fault)
    error = outcome(adapter, ASSET[provider])
    assert isinstance(error, CONNECTION_FAULTS[fault]), f"{client_of(provider, 'production')}: {error!r}"
    check_clean(error)


@pytest.mark.slow
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_hanging_host_is_a_timeout_through_the_production_clients(hs, fresh_yfinance, provider):
    adapter = build(provider, "production", hs)
    hs.fault(provider, "hang")
    error = outcome(adapter, ASSET[provider])
    assert isinstance(error, Unavailable) and "timeout" in str(error), repr(error)


@pytest.mark.parametrize("fault", list(HTTP_FAULTS))
@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("path", ["production", "base_url"])
def test_http_faults_on_both_client_paths(hs, fresh_yfinance, path, provider, fault):
    controls, expected = HTTP_FAULTS[fault]
    adapter = build(provider, path, hs)
    hs.sandbox.configure(provider, **controls)
    error = outcome(adapter, ASSET[provider])
    assert isinstance(error, expected), f"{client_of(provider, path)}: {error!r}"
    check_clean(error)


# --- the classifier, on the clients' own exceptions -----------------------------------------------

def _raised(call):
    try:
        call()
    except BaseException as exc:  # noqa: BLE001 - the exception is the subject
        return exc
    raise AssertionError("no exception")


@pytest.mark.parametrize("client", ["curl_cffi", "requests"])
def test_a_real_dns_failure_is_retry_later_for_both_clients(client, monkeypatch):
    for name in ("https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    url = "https://finhub-test.invalid/query?function=GLOBAL_QUOTE&apikey=" + AV_KEY  # .invalid never resolves
    if client == "curl_cffi":
        exc = _raised(lambda: curl_requests.Session(impersonate="chrome").get(url, timeout=5))
        assert not isinstance(exc, requests.RequestException)  # the trap: not a requests exception
    else:
        exc = _raised(lambda: requests.get(url, timeout=5))
    error = _http.from_exception("alphavantage", exc)
    assert isinstance(error, Unavailable) and "DNS" in str(error) and AV_KEY not in str(error), repr(error)


@pytest.mark.parametrize("client", ["curl_cffi", "requests"])
def test_an_unreachable_proxy_is_retry_later_for_both_clients(client, monkeypatch):
    with socket_closed() as port:
        proxy = f"http://127.0.0.1:{port}"
        url = "https://www.alphavantage.co/query?apikey=" + AV_KEY
        if client == "curl_cffi":
            exc = _raised(lambda: curl_requests.get(url, proxy=proxy, timeout=5))
        else:
            exc = _raised(lambda: requests.get(url, proxies={"https": proxy}, timeout=5))
    error = _http.from_exception("alphavantage", exc)
    assert isinstance(error, RetryLater) and AV_KEY not in str(error), repr(error)


class socket_closed:
    """A loopback port nothing listens on."""

    def __enter__(self) -> int:
        import socket

        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        return self.port

    def __exit__(self, *exc) -> None:
        pass


# --- the fallback chain and the breaker -----------------------------------------------------------

@pytest.fixture
def planner():
    client = redis.Redis(host="127.0.0.1", port=6379, db=PLANNER_DB)
    client.flushdb()
    quotas = Quotas(client, {"yahoo": QuotaSettings(), "alphavantage": QuotaSettings(),
                             "coingecko": QuotaSettings()})
    breakers = Breakers(client, BreakerSettings(failures=2, cooldown=60))
    yield quotas, breakers
    client.flushdb()
    client.close()


@pytest.mark.parametrize("fault", ["dns", "untrusted", "reset", "http_503", "html", "http_403"])
def test_yahoo_failing_falls_back_to_alpha_vantage_and_opens_its_breaker(hs, fresh_yfinance, planner, fault):
    quotas, breakers = planner
    providers = {name: build(name, "production", hs) for name in ("yahoo", "alphavantage")}
    if fault in HTTP_FAULTS:
        hs.sandbox.configure("yahoo", **HTTP_FAULTS[fault][0])
    else:
        hs.fault("yahoo", fault)
    stock = UNIVERSE["AAPL"]
    for attempt in range(2):  # the breaker's threshold
        got = fetch_quotes([stock], ["yahoo", "alphavantage"], providers, quotas, breakers)
        assert [o.provider for o in got.observations] == ["alphavantage"], (attempt, got)
        assert "yahoo" in got.skipped
    health = breakers.health("yahoo")
    assert health.state == State.OPEN and health.failures >= 2
    assert AV_KEY not in health.last_error and health.last_error
    got = fetch_quotes([stock], ["yahoo", "alphavantage"], providers, quotas, breakers)
    assert got.skipped["yahoo"] == "breaker open" and [o.provider for o in got.observations] == ["alphavantage"]


def test_an_exception_an_adapter_lets_through_is_classified_by_the_chain(planner):
    quotas, breakers = planner

    from finhub.model import Observation
    from providers.base import Provider, Quotes, utcnow

    class Scripted(Provider):
        def __init__(self, name, fail=None):
            self.name, self.fail = name, fail

        def supports(self, asset):
            return True

        def quote_batch(self, assets):
            if self.fail:
                raise self.fail
            now = utcnow()
            return Quotes([Observation(a.symbol, a.asset_type, 1.0, now, self.name, now) for a in assets])

        def history(self, asset, interval, start, end):
            raise NotImplementedError

    leaky = Scripted("yahoo", curl_requests.exceptions.DNSError("Could not resolve host: query1.finance.yahoo.com"))
    chain = {"yahoo": leaky, "alphavantage": Scripted("alphavantage")}
    got = fetch_quotes([UNIVERSE["AAPL"]], ["yahoo", "alphavantage"], chain, quotas, breakers)
    assert [o.provider for o in got.observations] == ["alphavantage"]
    assert "DNS" in got.skipped["yahoo"] and breakers.health("yahoo").failures == 1

