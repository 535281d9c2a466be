"""`plan`: does the schedule fit the quotas? Verdicts for fitting and non-fitting schedules."""

import subprocess
import sys
from pathlib import Path

from finhub.config import load_settings
from finhub.planner.capacity import build_plan, render
from finhub.universe import build_universe

ROOT = Path(__file__).resolve().parents[2]


def plan_for(tmp_path, toml: str, **env):
    path = tmp_path / "finhub.toml"
    path.write_text(toml)
    settings = load_settings(path, environ=env)
    return build_plan(settings, build_universe(settings.assets))


def test_default_schedule_fits_and_counts_calls(tmp_path):
    plan = plan_for(tmp_path, "", FINHUB_ALPHAVANTAGE_API_KEY="k")
    assert plan.fits and plan.fits_month
    yahoo = plan.providers["yahoo"]
    assert yahoo.used_by("quotes", "per_hour") == 12       # 48 active stocks in 1 call, every 5 min
    assert yahoo.used_by("validation", "per_hour") == 10   # 23 cryptos cross-checked every 6 min
    coingecko = plan.providers["coingecko"]
    assert coingecko.used_by("quotes", "per_hour") == 10 + 1 + 1 / 6  # quotes, trending, top
    av = plan.providers["alphavantage"]
    assert av.used_by("spot_check", "per_day") == 5 and av.total("per_day") <= 25  # its priority ceiling
    coverage = dict(av.fallback)
    assert 0 < coverage["stock_quote for yahoo"] < 0.01  # 25 calls a day cannot replace Yahoo


def test_five_symbols_four_timeframes_every_minute_against_800_a_day(tmp_path):
    toml = """
[schedule]
stock_quotes = 60
history = 60
history_intraday = 60
[history]
intervals = ["1h", "1d", "1wk"]
[providers.yahoo]
batch_size = 1
[providers.yahoo.quota]
per_day = 800
[assets]
remove = [%s]
""" % ", ".join(f'"{s}"' for s in [a.symbol for a in build_universe()] if s not in ("AAPL", "MSFT", "GOOGL", "AMZN", "TSLA"))
    plan = plan_for(tmp_path, toml)
    yahoo = plan.providers["yahoo"]
    assert yahoo.total("per_minute") == 20  # 5 quotes + 5 × 3 bars
    assert not plan.fits
    assert any("per day" in p and "800" in p for p in yahoo.problems())
    assert "DOES NOT FIT" in render(plan)


def test_a_purpose_over_its_share_does_not_fit(tmp_path):
    plan = plan_for(tmp_path, "[providers.coingecko.quota]\nper_hour = 100\nhistory = 0.1\n"
                              "[schedule]\nhistory = 3600\n[fallback]\ncrypto_history = [\"coingecko\"]\n")
    problems = plan.providers["coingecko"].problems()
    assert problems and all("history" in p for p in problems)


def test_plan_command_exit_status(tmp_path):
    def run(toml):
        (tmp_path / "finhub.toml").write_text(toml)
        return subprocess.run([sys.executable, "-m", "finhub", "plan"], cwd=tmp_path, capture_output=True, text=True,
                              env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    ok = run("")
    assert ok.returncode == 0 and "overall: the schedule fits" in ok.stdout
    bad = run("[schedule]\ncrypto_quotes = 1\n")
    assert bad.returncode == 1 and "coingecko" in bad.stdout and "DOES NOT FIT" in bad.stdout


def test_stock_quotes_count_only_nyse_hours_and_the_close(tmp_path):
    """48 active stocks in one Yahoo call every 5 minutes: 12 calls an hour while open, but a day
    holds one 6.5-hour session (78 runs) and the close capture, and 30 days at most 22 sessions."""
    yahoo = plan_for(tmp_path, "").providers["yahoo"]
    assert yahoo.used_by("quotes", "per_hour") == 12
    assert yahoo.used_by("quotes", "per_day") == 6.5 * 12 + 1 == 79           # not 288 around the clock
    assert yahoo.used_by("quotes", "per_month") == 79 * 22                    # not 8,640
    crypto = [d for d in plan_for(tmp_path, "").providers["coingecko"].demands if d.job == "crypto_quotes"]
    assert crypto[0].per("per_day") == 240                                    # cryptos trade around the clock


#: The schedule and chains before they were fitted to CoinGecko's demo month.
PRE_DEMO_DEFAULTS = """
[schedule]
crypto_quotes = 120
trending = 900
top_cryptos = 1800
[fallback]
crypto_history = ["coingecko", "yahoo"]
"""


def run_plan(tmp_path, toml: str, *args: str, **env) -> subprocess.CompletedProcess:
    (tmp_path / "finhub.toml").write_text(toml)
    return subprocess.run([sys.executable, "-m", "finhub", "plan", *args], cwd=tmp_path, capture_output=True,
                          text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", **env})


def test_the_pre_change_defaults_with_a_demo_key_are_refused_by_strict(tmp_path):
    key = {"FINHUB_COINGECKO_API_KEY": "CG-demo-key"}
    strict = run_plan(tmp_path, PRE_DEMO_DEFAULTS, "--strict", **key)
    assert strict.returncode == 1, strict.stdout
    assert "month: needs 26,610 of 10,000 calls (demo plan)" in strict.stdout
    assert "WARNING: the month does not fit" in strict.stdout and "CG-demo-key" not in strict.stdout
    warned = run_plan(tmp_path, PRE_DEMO_DEFAULTS, **key)  # without --strict: a warning, not a refusal
    assert warned.returncode == 0 and "WARNING: the month does not fit" in warned.stdout


def test_the_defaults_with_a_demo_key_fit_its_month(tmp_path):
    done = run_plan(tmp_path, "", "--strict", FINHUB_COINGECKO_API_KEY="CG-demo-key")
    assert done.returncode == 0, done.stdout
    assert "month: needs 8,040 of 10,000 calls (demo plan), 20% headroom" in done.stdout
    assert "overall: the schedule fits every quota" in done.stdout
    assert done.stdout.count("\n  month: ") == 2  # a month line for every provider (Yahoo has no monthly limit)
    assert "month: needs 11,068 calls; no monthly limit" in done.stdout


def test_coingecko_plans_set_the_quota_and_a_key_set_by_hand_stays(tmp_path):
    keyless = plan_for(tmp_path, "").providers["coingecko"]
    assert (keyless.plan, keyless.quota.per_minute, keyless.quota.per_month) == ("keyless", 5, 0)
    demo = plan_for(tmp_path, "", FINHUB_COINGECKO_API_KEY="k").providers["coingecko"]
    assert (demo.plan, demo.quota.per_minute, demo.quota.per_month, demo.quota.min_spacing) == ("demo", 30, 10_000, 0)
    pro = plan_for(tmp_path, "[providers.coingecko]\nplan = \"pro\"\n[providers.coingecko.quota]\nper_minute = 500\n",
                   FINHUB_COINGECKO_API_KEY="k").providers["coingecko"]
    assert (pro.plan, pro.quota.per_minute, pro.quota.per_month) == ("pro", 500, 100_000)


def test_plan_shows_alpha_vantages_priority_order_with_yahoo_down(tmp_path):
    text = render(plan_for(tmp_path, "", FINHUB_ALPHAVANTAGE_API_KEY="k"))
    assert ("priority: with coingecko or yahoo down: stock fallback 15/25 kept (at most 25), cross-checks 5/25 kept (at most 10), "
            "spot checks 3/25 kept (at most 5), history at most 2/25 a day") in text
    reordered = render(plan_for(tmp_path, "[providers.alphavantage.quota]\npriority = [\"validation\", \"fallback\"]\n"
                                          "validation = 0.4\n", FINHUB_ALPHAVANTAGE_API_KEY="k"))
    assert "down: cross-checks 10/25 kept (at most 25), stock fallback at most 15/25 a day" in reordered
