"""Cross-checks through the real adapters against the sandbox, real Redis budgets and a SQLite store."""

from datetime import timedelta

import pytest
from sqlalchemy import text

from finhub.jobs import crosscheck
from finhub.jobs import quotes as quote_jobs
from finhub.model import AssetType
from finhub.storage import recent_quarantined
from tests.validation.conftest import FRIDAY

#: After Friday's close: Yahoo and Alpha Vantage both stamp stocks at the 21:00 UTC close.
AFTER_CLOSE = FRIDAY.replace(hour=21, minute=30)


def quotes(ctx, asset_type, symbols=None, now=FRIDAY):
    universe = ctx.universe.stocks if asset_type == AssetType.STOCK else ctx.universe.cryptos
    symbols = symbols or [a.symbol for a in universe]
    return quote_jobs.collect_quotes(ctx, asset_type, symbols, now=now).observations


def stored(ctx):
    with ctx.engine.connect() as c:
        rows = c.execute(text("SELECT symbol, price, source, validation_status, sources, max_deviation_pct, "
                              "outlier_source, outlier_price FROM assets_assetpriceshistoric")).mappings().all()
    return {r["symbol"]: dict(r) for r in rows}


def test_a_crypto_skewed_by_one_provider_is_quarantined_and_every_other_validated(make_ctx, sandbox):
    ctx = make_ctx(alphavantage_api_key="")  # no third source to break the tie
    sandbox.configure("yahoo", skew={"BTC-USD": 5.0})
    decisions = crosscheck.validate_batch(ctx, quotes(ctx, AssetType.CRYPTO), now=FRIDAY)
    assert crosscheck.counts(decisions) == "22 validated, 0 single-source, 1 quarantined"
    rows = stored(ctx)
    assert "BTC" not in rows and len(rows) == 22
    assert all(r["validation_status"] == "validated" and r["sources"] == "coingecko,yahoo" and r["source"] == "coingecko"
               and 0 <= r["max_deviation_pct"] <= 2 for r in rows.values())
    (btc,) = recent_quarantined(ctx.engine)
    assert (btc["symbol"], btc["reason"]) == ("BTC", "disagreement")
    values = {o["provider"]: o["price"] for o in btc["observations"]}
    assert values["yahoo"] / values["coingecko"] - 1 == pytest.approx(0.05, abs=0.004)
    # A redelivered batch stores nothing twice.
    crosscheck.validate_batch(ctx, quotes(ctx, AssetType.CRYPTO), now=FRIDAY)
    assert len(stored(ctx)) == 22 and len(recent_quarantined(ctx.engine)) == 1


def test_a_third_source_names_the_skewed_provider_as_outlier(make_ctx, sandbox):
    ctx = make_ctx()
    sandbox.configure("yahoo", skew={"BTC-USD": 5.0})
    decisions = {d.symbol: d for d in crosscheck.validate_batch(ctx, quotes(ctx, AssetType.CRYPTO, ["BTC", "ETH"]),
                                                                now=FRIDAY)}
    btc = decisions["BTC"]
    assert (btc.status, btc.provider, btc.outliers) == ("validated", "coingecko", ("yahoo",))
    assert sandbox.calls()["alphavantage"] == {"CURRENCY_EXCHANGE_RATE": 1}  # BTC's tie-break only
    rows = stored(ctx)
    assert rows["BTC"]["sources"] == "alphavantage,coingecko" and rows["ETH"]["sources"] == "coingecko,yahoo"
    assert recent_quarantined(ctx.engine) == []
    # The row says who disagreed, and with what price; rows whose sources agreed name nobody.
    yahoo_btc = next(o.price for o in btc.observations if o.provider == "yahoo")
    assert (rows["BTC"]["outlier_source"], rows["BTC"]["outlier_price"]) == ("yahoo", yahoo_btc)
    assert rows["BTC"]["outlier_price"] / rows["BTC"]["price"] - 1 == pytest.approx(0.05, abs=0.004)
    assert (rows["ETH"]["outlier_source"], rows["ETH"]["outlier_price"]) == (None, None)


def test_with_a_last_good_price_the_skewed_provider_is_named_outlier_and_the_other_stored(make_ctx, sandbox):
    ctx = make_ctx()
    crosscheck.validate_batch(ctx, quotes(ctx, AssetType.CRYPTO, ["BTC"], now=FRIDAY), now=FRIDAY)
    later = FRIDAY + timedelta(minutes=2)
    sandbox.set_clock(later)
    sandbox.configure("yahoo", skew={"BTC-USD": 5.0})
    (decision,) = crosscheck.validate_batch(ctx, quotes(ctx, AssetType.CRYPTO, ["BTC"], now=later), now=later)
    assert decision.outliers == ("yahoo",) and decision.provider == "coingecko"
    rows = [r for r in _all_rows(ctx) if r["symbol"] == "BTC"]
    assert [(r["source"], r["sources"]) for r in rows] == [("coingecko", "coingecko,yahoo"),
                                                           ("coingecko", "coingecko")]


def test_a_stock_jump_is_caught_by_the_confirming_alpha_vantage_call(make_ctx, sandbox):
    ctx = make_ctx(validation_stock_spot_checks=0)
    sandbox.set_clock(AFTER_CLOSE - timedelta(days=1))  # Thursday's close: the last good prices
    crosscheck.validate_batch(ctx, quotes(ctx, AssetType.STOCK, ["AAPL", "MSFT"]), now=AFTER_CLOSE - timedelta(days=1))
    sandbox.set_clock(AFTER_CLOSE)
    sandbox.configure("yahoo", skew={"AAPL": 30.0})
    before = sandbox.calls().get("alphavantage", {}).get("GLOBAL_QUOTE", 0)
    decisions = {d.symbol: d for d in crosscheck.validate_batch(ctx, quotes(ctx, AssetType.STOCK, ["AAPL", "MSFT"]),
                                                                now=AFTER_CLOSE)}
    assert sandbox.calls()["alphavantage"]["GLOBAL_QUOTE"] - before == 1  # AAPL only: MSFT did not jump
    aapl = decisions["AAPL"]
    assert aapl.provider == "alphavantage" and aapl.outliers == ("yahoo",)
    assert "confirmed by the last good price" in aapl.detail
    assert str(decisions["MSFT"].status) == "single_source"


def test_stale_prices_are_quarantined_as_stale(make_ctx, sandbox):
    ctx = make_ctx()
    for provider, symbol in (("coingecko", "bitcoin"), ("yahoo", "BTC-USD")):
        sandbox.configure(provider, stale={symbol: 3600})
    decisions = {d.symbol: d for d in crosscheck.validate_batch(ctx, quotes(ctx, AssetType.CRYPTO, ["BTC", "ETH"]),
                                                                now=FRIDAY)}
    assert (decisions["BTC"].status, decisions["BTC"].reason) == ("quarantined", "stale")
    assert decisions["ETH"].status == "validated"
    (row,) = recent_quarantined(ctx.engine)
    assert row["reason"] == "stale" and "heartbeat 0:15:00" in row["detail"]


def test_a_friday_close_read_on_saturday_is_not_stale(make_ctx, sandbox):
    ctx = make_ctx()
    saturday = AFTER_CLOSE + timedelta(hours=18)
    sandbox.set_clock(saturday)
    decisions = crosscheck.validate_batch(ctx, quotes(ctx, AssetType.STOCK, ["AAPL", "MSFT"], now=saturday),
                                          now=saturday)
    assert {d.timestamp for d in decisions} == {AFTER_CLOSE.replace(minute=0)}
    assert crosscheck.counts(decisions) == "1 validated, 1 single-source, 0 quarantined"  # one spot check


def test_stock_spot_checks_rotate_through_the_universe(make_ctx, sandbox):
    ctx = make_ctx(validation_stock_spot_checks=2, alphavantage_quota_per_second=0, alphavantage_quota_per_minute=0,
                   alphavantage_quota_per_day=50)  # spot checks may spend 10: the 6 asked
    sandbox.set_clock(AFTER_CLOSE)
    batch = quotes(ctx, AssetType.STOCK, ["AAPL", "MSFT", "IBM"], now=AFTER_CLOSE)
    checked = []
    for minute in range(3):  # the stock market is closed: these prices do not age
        decisions = crosscheck.validate_batch(ctx, batch, now=AFTER_CLOSE + timedelta(minutes=minute))
        checked.append(sorted(d.symbol for d in decisions if d.status == "validated"))
    # Never checked first, then the longest ago (ties by symbol).
    assert checked == [["AAPL", "IBM"], ["AAPL", "MSFT"], ["IBM", "MSFT"]]


def test_alpha_vantage_spot_checks_leave_confirming_calls_their_reserve_of_the_daily_budget(make_ctx, sandbox):
    # 25 a day in priority order (stock fallback, cross-checks, spot checks, history): spot checks may
    # fill 20 % (5), confirming calls 40 % (10). The per-second and per-minute windows are lifted so the
    # day binds.
    ctx = make_ctx(validation_stock_spot_checks=100, alphavantage_quota_per_second=0,
                   alphavantage_quota_per_minute=0)
    thursday = AFTER_CLOSE - timedelta(days=1)
    sandbox.set_clock(thursday)
    batch = quotes(ctx, AssetType.STOCK, now=thursday)
    for _ in range(2):
        decisions = crosscheck.validate_batch(ctx, batch, now=thursday)
    assert sandbox.calls()["alphavantage"]["GLOBAL_QUOTE"] == 5
    # Nothing waits for the budget: every stock is stored, 5 of them validated.
    assert crosscheck.counts(decisions) == "0 validated, 48 single-source, 0 quarantined"
    assert sum(r["validation_status"] == "validated" for r in stored(ctx).values()) == 5
    # Spot checks are spent, yet Friday's jumps still get their confirming call, up to the validation share.
    sandbox.set_clock(AFTER_CLOSE)
    jumping = ["AAPL", "MSFT", "NVDA", "JPM", "KO", "PG", "XOM", "CVX", "IBM", "V"]
    sandbox.configure("yahoo", skew={s: 30.0 for s in jumping})
    decisions = {d.symbol: d for d in crosscheck.validate_batch(
        ctx, quotes(ctx, AssetType.STOCK, jumping, now=AFTER_CLOSE), now=AFTER_CLOSE)}
    assert sandbox.calls()["alphavantage"]["GLOBAL_QUOTE"] == 10
    asked = [s for s, d in decisions.items() if any(o.provider == "alphavantage" for o in d.observations)]
    assert len(asked) == 5
    assert {str(decisions[s].reason) for s in set(jumping) - set(asked)} == {"jump"}
    assert all(d.provider != "yahoo" for d in decisions.values())  # the skewed price is never stored


def test_the_sweep_validates_agreeing_rows_and_moves_disagreeing_ones_to_the_quarantine(make_ctx, sandbox):
    alone = make_ctx(validation_crosscheck_crypto="false")
    crosscheck.validate_batch(alone, quotes(alone, AssetType.CRYPTO, ["BTC", "ETH", "SOL"]), now=FRIDAY)
    assert {r["validation_status"] for r in stored(alone).values()} == {"single_source"}
    ctx = make_ctx(alphavantage_quota_per_second=0, alphavantage_quota_per_minute=0)
    # SOL: Yahoo's price is off, and Alpha Vantage, the third source, sides with the stored one.
    # ETH: all three disagree, at the same moment (the sandbox's clock stands still).
    sandbox.configure("yahoo", skew={"ETH-USD": 5.0, "SOL-USD": 5.0})
    sandbox.configure("alphavantage", skew={"ETH": -5.0})
    done = crosscheck.sweep(ctx, now=FRIDAY + timedelta(minutes=5))
    assert done == {"examined": 3, "checked": 3, "validated": 2, "quarantined": 1}
    rows = stored(ctx)
    assert set(rows) == {"BTC", "SOL"} and {r["validation_status"] for r in rows.values()} == {"validated"}
    assert rows["SOL"]["sources"] == "alphavantage,coingecko"
    assert [(q["symbol"], q["reason"]) for q in recent_quarantined(ctx.engine)] == [("ETH", "disagreement")]
    again = crosscheck.sweep(ctx, now=FRIDAY + timedelta(minutes=5))
    assert again["examined"] == 0 and len(stored(ctx)) == 2 and len(recent_quarantined(ctx.engine)) == 1


def test_the_sweep_never_moves_a_row_on_a_price_from_a_later_moment_nor_spends_a_call_on_a_stale_one(make_ctx, sandbox):
    alone = make_ctx(validation_crosscheck_crypto="false")
    crosscheck.validate_batch(alone, quotes(alone, AssetType.CRYPTO, ["BTC", "ETH"]), now=FRIDAY)
    ctx = make_ctx()
    sandbox.set_clock(FRIDAY + timedelta(minutes=5))  # the market moved on: Yahoo's price is 5 minutes later
    sandbox.configure("yahoo", skew={"BTC-USD": 5.0})
    before = sum(sandbox.calls().get("yahoo", {}).values())
    done = crosscheck.sweep(ctx, now=FRIDAY + timedelta(minutes=5))
    assert done["checked"] == 2 and done["quarantined"] == 0 and set(stored(ctx)) == {"BTC", "ETH"}
    assert stored(ctx)["BTC"]["validation_status"] == "single_source"
    used = sum(sandbox.calls()["yahoo"].values()) - before
    # 20 minutes on, both rows are older than crypto's 15-minute heartbeat: no call at all.
    assert crosscheck.sweep(ctx, now=FRIDAY + timedelta(minutes=20))["checked"] == 0
    assert sum(sandbox.calls()["yahoo"].values()) - before == used


def _all_rows(ctx):
    with ctx.engine.connect() as c:
        return c.execute(text("SELECT symbol, source, sources FROM assets_assetpriceshistoric "
                              "ORDER BY timestamp")).mappings().all()
