"""The validation rules: every rule and reason code in a table, then the properties that must always hold."""

import math
import statistics
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from finhub.model import AssetType, Observation
from finhub.validation import CRYPTO_LIMITS, STOCK_LIMITS, LastGood, Limits, Reason, Status, ValidationPolicy, decide

STOCK, CRYPTO = AssetType.STOCK, AssetType.CRYPTO
NOW = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)   # Friday 12:00 New York, market open
FRESH = timedelta(minutes=1)
VALIDATED, SINGLE, QUARANTINED = Status.VALIDATED, Status.SINGLE_SOURCE, Status.QUARANTINED
SHIB_POLICY = ValidationPolicy(assets={"SHIB": replace(CRYPTO_LIMITS, tolerance=0.05)})


def observation(provider, price, age=FRESH, asset_type=CRYPTO, symbol="BTC", now=NOW):
    return Observation(symbol, asset_type, price, now - age, provider, now)


def last(price):
    return LastGood(price, NOW - timedelta(minutes=5))


# Each case: the sources as {provider: price or (price, age)}, the primary, the last good price,
# then what the user sees: status, reason, where the stored value comes from, the sources that
# agreed, and the providers set aside with their codes.
CASES = {
    "two agree: the primary's value": (
        CRYPTO, {"coingecko": 100.0, "yahoo": 101.5}, "coingecko", None,
        VALIDATED, None, "coingecko", ("coingecko", "yahoo"), ()),
    "two agree, the other primary: its value": (
        CRYPTO, {"coingecko": 100.0, "yahoo": 101.5}, "yahoo", None,
        VALIDATED, None, "yahoo", ("coingecko", "yahoo"), ()),
    "two stocks 1.8 % apart are each 0.9 % from their midpoint": (
        STOCK, {"yahoo": 100.0, "alphavantage": 101.8}, "yahoo", None,
        VALIDATED, None, "yahoo", ("alphavantage", "yahoo"), ()),
    "exactly at the tolerance agrees": (
        STOCK, {"yahoo": 99.0, "alphavantage": 101.0}, "alphavantage", None,
        VALIDATED, None, "alphavantage", ("alphavantage", "yahoo"), ()),
    "just beyond the tolerance disagrees": (
        STOCK, {"yahoo": 98.9, "alphavantage": 101.0}, "alphavantage", None,
        QUARANTINED, Reason.DISAGREEMENT, None, (), ()),
    "three agree: the median": (
        CRYPTO, {"coingecko": 100.0, "yahoo": 101.0, "alphavantage": 100.4}, "coingecko", None,
        VALIDATED, None, "alphavantage", ("alphavantage", "coingecko", "yahoo"), ()),
    "four agree: of the middle two the primary's": (
        CRYPTO, {"a": 100.0, "b": 100.2, "c": 100.4, "d": 100.6}, "c", None,
        VALIDATED, None, "c", ("a", "b", "c", "d"), ()),
    "four agree, primary not in the middle: the lower middle": (
        CRYPTO, {"a": 100.0, "b": 100.2, "c": 100.4, "d": 100.6}, "d", None,
        VALIDATED, None, "b", ("a", "b", "c", "d"), ()),
    "a third source names the outlier": (
        CRYPTO, {"coingecko": 100.0, "yahoo": 105.0, "alphavantage": 100.2}, "coingecko", None,
        VALIDATED, None, "coingecko", ("alphavantage", "coingecko"), (("yahoo", Reason.DISAGREEMENT),)),
    "the primary outvoted: the value comes from the agreeing side": (
        CRYPTO, {"coingecko": 100.0, "yahoo": 105.0, "alphavantage": 100.2}, "yahoo", None,
        VALIDATED, None, "coingecko", ("alphavantage", "coingecko"), (("yahoo", Reason.DISAGREEMENT),)),
    "two disagree, nothing breaks the tie": (
        CRYPTO, {"coingecko": 100.0, "yahoo": 105.0}, "coingecko", None,
        QUARANTINED, Reason.DISAGREEMENT, None, (), ()),
    "two disagree, the last good price sides with the primary": (
        CRYPTO, {"coingecko": 100.0, "yahoo": 105.0}, "coingecko", 100.3,
        SINGLE, None, "coingecko", ("coingecko",), (("yahoo", Reason.DISAGREEMENT),)),
    "a skewed primary caught by the confirming call": (
        STOCK, {"yahoo": 125.0, "alphavantage": 100.5}, "yahoo", 100.0,
        SINGLE, None, "alphavantage", ("alphavantage",), (("yahoo", Reason.DISAGREEMENT),)),
    "two disagree, the last good price near neither": (
        CRYPTO, {"coingecko": 100.0, "yahoo": 105.0}, "coingecko", 110.0,
        QUARANTINED, Reason.DISAGREEMENT, None, (), ()),
    "two against two, the last good price picks a pair": (
        CRYPTO, {"a": 100.0, "b": 100.5, "c": 110.0, "d": 110.5}, "c", 100.2,
        VALIDATED, None, "a", ("a", "b"), (("c", Reason.DISAGREEMENT), ("d", Reason.DISAGREEMENT))),
    "per-asset tolerance: 5 % apart is fine for SHIB ...": (
        CRYPTO, {"coingecko": 100.0, "yahoo": 105.0, "symbol": "SHIB"}, "coingecko", None,
        VALIDATED, None, "coingecko", ("coingecko", "yahoo"), ()),
    "... but not for BTC": (
        CRYPTO, {"coingecko": 100.0, "yahoo": 105.0}, "coingecko", None,
        QUARANTINED, Reason.DISAGREEMENT, None, (), ()),
    "one source, nothing known": (
        STOCK, {"yahoo": 100.0}, "yahoo", None,
        SINGLE, None, "yahoo", ("yahoo",), ()),
    "one source, a move below the stock jump threshold": (
        STOCK, {"yahoo": 115.0}, "yahoo", 100.0,
        SINGLE, None, "yahoo", ("yahoo",), ()),
    "one source, a stock jump": (
        STOCK, {"yahoo": 125.0}, "yahoo", 100.0,
        QUARANTINED, Reason.JUMP, None, (), ()),
    "one source, a stock fall is a jump too": (
        STOCK, {"yahoo": 75.0}, "yahoo", 100.0,
        QUARANTINED, Reason.JUMP, None, (), ()),
    "one source, 25 % is no jump for crypto": (
        CRYPTO, {"coingecko": 125.0}, "coingecko", 100.0,
        SINGLE, None, "coingecko", ("coingecko",), ()),
    "one source, a crypto jump": (
        CRYPTO, {"coingecko": 135.0}, "coingecko", 100.0,
        QUARANTINED, Reason.JUMP, None, (), ()),
    "a jump a second source confirms": (
        STOCK, {"yahoo": 125.0, "alphavantage": 125.5}, "yahoo", 100.0,
        VALIDATED, None, "yahoo", ("alphavantage", "yahoo"), ()),
    "NaN": (
        CRYPTO, {"coingecko": math.nan}, "coingecko", None,
        QUARANTINED, Reason.NON_FINITE, None, (), (("coingecko", Reason.NON_FINITE),)),
    "infinity": (
        CRYPTO, {"coingecko": math.inf}, "coingecko", 100.0,
        QUARANTINED, Reason.NON_FINITE, None, (), (("coingecko", Reason.NON_FINITE),)),
    "zero": (
        STOCK, {"yahoo": 0.0}, "yahoo", None,
        QUARANTINED, Reason.NON_POSITIVE, None, (), (("yahoo", Reason.NON_POSITIVE),)),
    "negative": (
        STOCK, {"yahoo": -3.0}, "yahoo", None,
        QUARANTINED, Reason.NON_POSITIVE, None, (), (("yahoo", Reason.NON_POSITIVE),)),
    "a bad cross-check is set aside, the primary stands alone": (
        CRYPTO, {"coingecko": 100.0, "yahoo": math.nan}, "coingecko", None,
        SINGLE, None, "coingecko", ("coingecko",), (("yahoo", Reason.NON_FINITE),)),
    "a bad primary is set aside, the cross-check stands alone": (
        CRYPTO, {"coingecko": 0.0, "yahoo": 100.0}, "coingecko", None,
        SINGLE, None, "yahoo", ("yahoo",), (("coingecko", Reason.NON_POSITIVE),)),
    "stale crypto (16 minutes, heartbeat 15)": (
        CRYPTO, {"coingecko": (100.0, timedelta(minutes=16))}, "coingecko", None,
        QUARANTINED, Reason.STALE, None, (), (("coingecko", Reason.STALE),)),
    "exactly the heartbeat is not stale": (
        CRYPTO, {"coingecko": (100.0, timedelta(minutes=15))}, "coingecko", None,
        SINGLE, None, "coingecko", ("coingecko",), ()),
    "a stale primary, a fresh cross-check": (
        CRYPTO, {"coingecko": (100.0, timedelta(hours=2)), "yahoo": 100.5}, "coingecko", None,
        SINGLE, None, "yahoo", ("yahoo",), (("coingecko", Reason.STALE),)),
    "stale stock: a Wednesday price on Friday midday": (
        STOCK, {"yahoo": (100.0, timedelta(days=1, hours=21))}, "yahoo", None,
        QUARANTINED, Reason.STALE, None, (), (("yahoo", Reason.STALE),)),
    "market time in the future beyond the clock skew": (
        CRYPTO, {"coingecko": (100.0, -timedelta(minutes=10))}, "coingecko", None,
        QUARANTINED, Reason.FUTURE, None, (), (("coingecko", Reason.FUTURE),)),
    "market time a little ahead is within the clock skew": (
        CRYPTO, {"coingecko": (100.0, -timedelta(minutes=4))}, "coingecko", None,
        SINGLE, None, "coingecko", ("coingecko",), ()),
    "nothing usable: the primary's reason": (
        CRYPTO, {"coingecko": math.nan, "yahoo": (100.0, timedelta(hours=1))}, "yahoo", None,
        QUARANTINED, Reason.STALE, None, (), (("coingecko", Reason.NON_FINITE), ("yahoo", Reason.STALE))),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_rules(case):
    asset_type, sources, primary, last_price, status, reason, provider, agreed, rejected = case
    sources = dict(sources)
    symbol = sources.pop("symbol", "BTC")
    observations = [observation(name, *(given if isinstance(given, tuple) else (given,)),
                                asset_type=asset_type, symbol=symbol)
                    for name, given in sources.items()]
    prices = {o.provider: o.price for o in observations}
    decision = decide(observations, primary=primary, now=NOW, policy=SHIB_POLICY,
                      last_good=None if last_price is None else last(last_price))
    assert (decision.status, decision.reason) == (status, reason)
    assert decision.provider == provider
    assert decision.value == (None if provider is None else prices[provider])
    assert decision.sources == agreed
    assert decision.rejected == rejected
    assert decision.outliers == tuple(name for name, _ in rejected)
    assert all(name in decision.detail for name, _ in rejected)


def test_deviation_is_measured_from_the_median_of_the_sources_compared():
    agreeing = decide([observation("coingecko", 100.0), observation("yahoo", 101.0)], primary="yahoo", now=NOW)
    assert agreeing.deviation_pct == pytest.approx(0.5 / 100.5 * 100)
    with_outlier = decide([observation("coingecko", 100.0), observation("yahoo", 101.0),
                           observation("alphavantage", 120.0)], primary="yahoo", now=NOW)
    assert with_outlier.deviation_pct == pytest.approx(0.5 / 100.5 * 100)   # the agreeing side only
    disagreeing = decide([observation("coingecko", 100.0), observation("yahoo", 110.0)], primary="yahoo", now=NOW)
    assert disagreeing.deviation_pct == pytest.approx(5 / 105 * 100)
    assert "coingecko 100" in disagreeing.detail and "yahoo 110" in disagreeing.detail
    assert decide([observation("yahoo", 100.0)], primary="yahoo", now=NOW).deviation_pct is None


def test_decision_carries_the_stored_observation_and_its_market_time():
    cg, yahoo = observation("coingecko", 100.0, age=timedelta(minutes=2)), observation("yahoo", 100.5)
    stored = decide([yahoo, cg], primary="coingecko", now=NOW)
    assert stored.stored is cg and stored.timestamp == cg.timestamp
    assert stored.observations == (cg, yahoo)
    rejected = decide([cg, observation("yahoo", 120.0)], primary="coingecko", now=NOW)
    assert rejected.stored is None and rejected.timestamp == cg.timestamp   # the primary's market time


def test_a_friday_close_read_on_saturday_is_stored():
    saturday = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    close = observation("yahoo", 100.0, asset_type=STOCK, symbol="AAPL", now=saturday,
                        age=saturday - datetime(2026, 11, 20, 21, 0, tzinfo=UTC))
    assert decide([close], primary="yahoo", now=saturday).status == SINGLE
    crypto = observation("coingecko", 100.0, now=saturday, age=close.fetched_at - close.timestamp)
    assert decide([crypto], primary="coingecko", now=saturday).reason == Reason.STALE


def test_per_asset_limits_apply_to_the_heartbeat_too():
    policy = ValidationPolicy(assets={"DOGE": replace(CRYPTO_LIMITS, heartbeat=timedelta(hours=2))})
    an_hour_old = observation("coingecko", 0.1, age=timedelta(hours=1), symbol="DOGE")
    assert decide([an_hour_old], primary="coingecko", now=NOW, policy=policy).status == SINGLE
    assert decide([replace(an_hour_old, symbol="BTC")], primary="coingecko", now=NOW, policy=policy).reason == "stale"


@pytest.mark.parametrize("observations, primary, now, message", [
    ([], "yahoo", NOW, "no observations"),
    ([observation("yahoo", 1.0), observation("yahoo", 2.0)], "yahoo", NOW, "one observation per provider"),
    ([observation("yahoo", 1.0)], "coingecko", NOW, "has no observation"),
    ([observation("yahoo", 1.0), observation("coingecko", 1.0, symbol="ETH")], "yahoo", NOW, "two assets"),
    ([observation("yahoo", 1.0)], "yahoo", NOW.replace(tzinfo=None), "timezone-aware"),
])
def test_inputs_no_caller_should_send_are_refused(observations, primary, now, message):
    with pytest.raises(ValueError, match=message):
        decide(observations, primary=primary, now=now)


def test_limits_are_checked():
    with pytest.raises(ValueError, match="tolerance < jump"):
        Limits(tolerance=0.3, jump=0.2, heartbeat=timedelta(minutes=1))
    with pytest.raises(ValueError, match="heartbeat"):
        replace(STOCK_LIMITS, heartbeat=timedelta(0))
    with pytest.raises(ValueError, match="finite and positive"):
        LastGood(math.nan, NOW)


# --- properties ---------------------------------------------------------------------------------

PROVIDERS = ["alphavantage", "coingecko", "kraken", "yahoo"]
AGES = [timedelta(0), FRESH, timedelta(minutes=14), timedelta(minutes=40), timedelta(days=2), -timedelta(minutes=9)]
#: Saturday (stock market closed) and a Friday session.
MOMENTS = [NOW, datetime(2026, 11, 21, 9, 30, tzinfo=UTC)]
odd_prices = st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -1.0, 1e-300, 1e300])


@st.composite
def situations(draw):
    """One asset's observations (often near each other, sometimes broken), a primary, a last good price."""
    asset_type = draw(st.sampled_from([STOCK, CRYPTO]))
    now = draw(st.sampled_from(MOMENTS))
    base = draw(st.floats(min_value=1e-6, max_value=1e6))
    providers = draw(st.lists(st.sampled_from(PROVIDERS), min_size=1, max_size=4, unique=True))
    observations = []
    for provider in providers:
        price = draw(st.one_of(st.floats(min_value=-0.08, max_value=0.08).map(lambda x: base * (1 + x)),
                               odd_prices))
        age = draw(st.sampled_from(AGES))
        observations.append(observation(provider, price, age=age, asset_type=asset_type, now=now))
    primary = draw(st.sampled_from(providers))
    last_good = draw(st.one_of(st.none(), st.floats(min_value=0.7, max_value=1.3).map(
        lambda x: LastGood(base * x, now - timedelta(hours=1)))))
    return observations, primary, now, last_good


@settings(max_examples=300, deadline=None)
@given(situation=situations(), data=st.data())
def test_order_of_sources_never_changes_the_decision(situation, data):
    observations, primary, now, last_good = situation
    shuffled = data.draw(st.permutations(observations))
    assert decide(shuffled, primary=primary, now=now, last_good=last_good) == \
        decide(observations, primary=primary, now=now, last_good=last_good)


@settings(max_examples=300, deadline=None)
@given(situation=situations())
def test_a_bad_value_is_never_stored(situation):
    observations, primary, now, last_good = situation
    decision = decide(observations, primary=primary, now=now, last_good=last_good)
    if decision.status == QUARANTINED:
        assert decision.value is None and decision.provider is None and decision.sources == ()
    else:
        assert math.isfinite(decision.value) and decision.value > 0
        assert decision.stored.price == decision.value and decision.provider in decision.sources
        assert decision.provider not in decision.outliers
    if decision.status == VALIDATED:
        tolerance = (STOCK_LIMITS if observations[0].asset_type == STOCK else CRYPTO_LIMITS).tolerance
        assert len(decision.sources) >= 2 and decision.deviation_pct <= tolerance * 100


@settings(max_examples=300, deadline=None)
@given(asset_type=st.sampled_from([STOCK, CRYPTO]), base=st.floats(min_value=1e-6, max_value=1e6),
       offsets=st.lists(st.floats(min_value=-1.0, max_value=1.0), min_size=2, max_size=4),
       primary_index=st.integers(min_value=0, max_value=3),
       last_good=st.one_of(st.none(), st.floats(min_value=0.1, max_value=10.0)))
def test_sources_within_tolerance_of_their_median_are_validated(asset_type, base, offsets, primary_index,
                                                                 last_good):
    tolerance = (STOCK_LIMITS if asset_type == STOCK else CRYPTO_LIMITS).tolerance
    prices = [base * (1 + tolerance * x) for x in offsets]
    median = statistics.median(prices)
    # A margin of a billionth keeps rounding in the median's last bit out of the question.
    assume(all(abs(p - median) <= tolerance * median * (1 - 1e-9) for p in prices))
    observations = [observation(name, price, asset_type=asset_type) for name, price in zip(PROVIDERS, prices)]
    primary = observations[primary_index % len(observations)].provider
    decision = decide(observations, primary=primary, now=NOW,
                      last_good=None if last_good is None else last(base * last_good))
    assert decision.status == VALIDATED
    assert decision.sources == tuple(sorted(o.provider for o in observations))
    assert decision.value in prices
    if len(observations) == 2:
        assert decision.provider == primary
