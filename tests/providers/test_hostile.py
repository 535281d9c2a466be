"""Property: whatever body a provider sends, an adapter raises only errors of the hierarchy and
never returns a non-finite or non-positive price, or a future market time."""

import json
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finhub.model import MAX_CLOCK_SKEW
from finhub.universe import build_universe
from providers.base import ProviderError

#: A thousand bodies per provider through a real HTTP server: seconds each.
pytestmark = pytest.mark.slow

UNIVERSE = build_universe()
CASES = settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))

scalars = (st.none() | st.booleans() | st.integers(min_value=-10**30, max_value=10**30)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
           | st.sampled_from(["NaN", "Infinity", "-1", "0", "1e400", "12.5", "", "2020-01-01"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
statuses = st.sampled_from([200, 200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 418, 429, 500, 502, 503])


def near_valid(shape):
    """Bodies shaped like the real answer, with hostile values in the fields that matter."""
    return shape.map(lambda obj: json.dumps(obj, allow_nan=True).encode())


yahoo_bodies = near_valid(st.fixed_dictionaries({"quoteResponse": st.fixed_dictionaries({
    "result": st.lists(st.fixed_dictionaries({"symbol": st.sampled_from(["AAPL", "MSFT", "BTC-USD"]) | values,
                                              "quoteType": st.sampled_from(["EQUITY", "NONE"]) | values,
                                              "regularMarketPrice": values, "regularMarketTime": values,
                                              "regularMarketOpen": values, "marketCap": values}), max_size=4)
    | values, "error": values})}) | values)
coingecko_bodies = near_valid(st.dictionaries(st.sampled_from(["bitcoin", "ethereum", "x"]) | st.text(max_size=5),
                                              st.fixed_dictionaries({"usd": values, "last_updated_at": values,
                                                                     "usd_market_cap": values}) | values,
                                              max_size=3) | values)
alphavantage_bodies = near_valid(st.fixed_dictionaries({"Global Quote": st.fixed_dictionaries({
    "05. price": values, "07. latest trading day": values, "02. open": values}) | values}) | values
    | st.fixed_dictionaries({"Realtime Currency Exchange Rate": st.fixed_dictionaries({
        "5. Exchange Rate": values, "6. Last Refreshed": values, "7. Time Zone": values}) | values}))
raw_bodies = (st.binary(max_size=200) | st.sampled_from([b"", b"<html><body>Oops</body></html>", b"{", b"[1,2",
                                                         b"null", b"Edge: Too Many Requests", b"\xff\xfe"]))


def check(provider, sandbox, name, assets, body, status, content_type):
    sandbox.configure(name, body=body, status=status, content_type=content_type)
    try:
        got = provider.quotes(assets)
    except ProviderError as exc:
        assert exc.provider == name
        return
    latest = datetime.now(UTC) + MAX_CLOCK_SKEW + timedelta(seconds=1)
    for obs in got.observations:
        assert isinstance(obs.price, float) and math.isfinite(obs.price) and obs.price > 0
        assert obs.timestamp.tzinfo is not None and obs.timestamp <= latest
    assert all(isinstance(e, ProviderError) for e in got.errors.values())


@CASES
@given(body=yahoo_bodies | raw_bodies, status=statuses,
       content_type=st.sampled_from(["application/json", "text/html", "text/plain"]))
def test_yahoo_survives_any_body(sandbox_server, yahoo, body, status, content_type):
    check(yahoo, sandbox_server, "yahoo", [UNIVERSE["AAPL"], UNIVERSE["MSFT"], UNIVERSE["BTC"]], body, status,
          content_type)


@CASES
@given(body=coingecko_bodies | raw_bodies, status=statuses,
       content_type=st.sampled_from(["application/json", "text/html"]))
def test_coingecko_survives_any_body(sandbox_server, coingecko, body, status, content_type):
    check(coingecko, sandbox_server, "coingecko", [UNIVERSE["BTC"], UNIVERSE["ETH"]], body, status, content_type)


@CASES
@given(body=alphavantage_bodies | raw_bodies, status=statuses,
       content_type=st.sampled_from(["application/json", "text/html"]))
def test_alphavantage_survives_any_body(sandbox_server, alphavantage, body, status, content_type):
    check(alphavantage, sandbox_server, "alphavantage", [UNIVERSE["AAPL"], UNIVERSE["BTC"]], body, status,
          content_type)
