"""`finhub discover` against the sandbox: us_equities and etf from one LISTING_STATUS call, crypto from
coins/markets; `--add` writes finhub.toml keeping its comments (or leaves it untouched when it
cannot), after the plan; the next `--once` collects what was added; bad input is one line."""

import json
import os
import subprocess
import sys
import tomllib

import pytest
from sqlalchemy import create_engine, text

from finhub import cli
from finhub.universe import DEFAULT_CRYPTOS, SYMBOL_PATTERN
from tests.pipeline.conftest import ROOT

TOML = """\
# finhub settings for the discover test: every comment here must survive --add
data_dir = "{data_dir}"   # where the SQLite file lives

[assets]
# only what discover finds, no default coin
remove = [{remove}]  # the defaults go
stocks = [
    {{symbol = "ZZZQ"}},  # bought years ago; LISTING_STATUS no longer has it
]

[schedule]
# keep the defaults
"""


@pytest.fixture
def finhub_env(env, tmp_path, monkeypatch):
    """The pipeline environment in this process too, with an Alpha Vantage key and a commented finhub.toml."""
    config = tmp_path / "finhub.toml"
    defaults = ", ".join(f'"{a.symbol}"' for a in DEFAULT_CRYPTOS)
    config.write_text(TOML.format(data_dir=tmp_path / "var", remove=defaults))
    env.update({"FINHUB_ALPHAVANTAGE_API_KEY": "test-key", "FINHUB_COINGECKO_API_KEY": "test-demo-key",
                "FINHUB_CONFIG": str(config)})
    for name in [n for n in os.environ if n.startswith("FINHUB_")]:
        monkeypatch.delenv(name)
    for name in [n for n in env if n.startswith("FINHUB_")]:
        monkeypatch.setenv(name, env[name])
    return env


def discover(capsys, *args):
    status = cli.main(["discover", *args])
    out = capsys.readouterr()
    return status, out.out, out.err


def listing_calls(sandbox) -> int:
    return sandbox.calls().get("alphavantage", {}).get("LISTING_STATUS", 0)


def test_us_equities_lists_100_valid_symbols_from_one_alphavantage_call(finhub_env, sandbox, capsys):
    before = listing_calls(sandbox)
    status, out, err = discover(capsys, "us_equities", "--limit", "100", "--json")
    assert status == 0, err
    assert listing_calls(sandbox) - before == 1
    found = json.loads(out)
    symbols = [c["symbol"] for c in found["candidates"]]
    assert len(symbols) == 100 and all(SYMBOL_PATTERN.fullmatch(s) for s in symbols)
    assert symbols == sorted(symbols)                                  # no rank in the listings: alphabetical
    assert {c["kind"] for c in found["candidates"]} == {"stock"}
    assert any(s["symbol"].endswith("-P-A") and s["reason"] == "not a valid finhub symbol" for s in found["skipped"])
    assert "AAPL" in symbols and next(c for c in found["candidates"] if c["symbol"] == "AAPL")["collected"]
    assert found["vanished"] == ["ZZZQ"]
    assert "ZZZQ is collected but no longer among the active US listings" in err

    status, out, err = discover(capsys, "etf", "--exchange", "NYSE ARCA,BATS", "--limit", "20")
    assert status == 0, err
    rows = [line.split() for line in out.splitlines()[1:21]]
    assert len(rows) == 20 and all(r[-2] == "etf" and r[-1] == "new" for r in rows)
    assert all("ARCA" in r or "BATS" in r for r in rows)
    assert "20 etf listed: 20 new, 0 collected (alphabetical: the listings carry no rank)" in out


def test_a_collected_stock_that_left_the_listings_is_marked_delisted_and_warned_like_hes(finhub_env, sandbox, capsys,
                                                                                       tmp_path):
    status, out, err = discover(capsys, "us_equities", "--limit", "3", "--add")
    assert status == 0, err
    assert "warning: ZZZQ is collected but no longer among the active US listings (delisted?): marked delisted" in out
    assert f"added to {tmp_path / 'finhub.toml'}: 2 stocks, 0 cryptos; marked delisted: ZZZQ" in out   # AAPL is in
    stocks = tomllib.loads((tmp_path / "finhub.toml").read_text())["assets"]["stocks"]
    assert stocks[0]["symbol"] == "ZZZQ" and stocks[0]["delisted"] and len(stocks) == 3

    assert cli.main(["universe"]) == 0
    out = capsys.readouterr().out
    assert "ZZZQ     stock" in out and "delisted" in out.split("ZZZQ", 1)[1].splitlines()[0]
    assert "warning: ZZZQ left the active US listings by " in out


@pytest.mark.slow  # the real driver and workers collect what was added
def test_crypto_add_writes_50_coins_keeping_comments_and_once_collects_them(finhub_env, sandbox, capsys, tmp_path):
    config = tmp_path / "finhub.toml"
    before = config.read_text()
    status, out, err = discover(capsys, "crypto", "--limit", "50", "--add")
    assert status == 0, err
    assert "`finhub plan` would then say:" in out and "overall: the schedule fits every quota" in out
    assert f"added to {config}: 0 stocks, 50 cryptos\n" in out
    after = config.read_text()
    for line in before.splitlines():                                   # comments and formatting survive
        if "ZZZQ" not in line:
            assert line in after.splitlines()
    added = tomllib.loads(after)["assets"]["cryptos"]
    assert len(added) == 50 and all(SYMBOL_PATTERN.fullmatch(c["symbol"]) and c["coingecko_id"] for c in added)
    assert {"symbol": "BTC", "coingecko_id": "bitcoin"} in [{k: c[k] for k in ("symbol", "coingecko_id")}
                                                            for c in added]

    status, out, _ = discover(capsys, "crypto", "--limit", "50", "--add")
    assert status == 0 and "nothing to add: every candidate is collected already" in out
    assert config.read_text() == after

    finhub_env["FINHUB_DATABASE_URL"] = f"sqlite:///{tmp_path}/finhub.db"
    once = subprocess.run([sys.executable, str(ROOT / "start_background_jobs.py"), "--once", "--workers", "2",
                           "--timeout", "90"], env=finhub_env, cwd=ROOT, capture_output=True, text=True, timeout=150)
    assert once.returncode == 0, once.stderr[-3000:]
    with create_engine(finhub_env["FINHUB_DATABASE_URL"]).connect() as c:
        stored = dict(c.execute(text("SELECT symbol, source FROM assets_assetpriceshistoric "
                                     "WHERE asset_type = 'crypto'")).all())
    assert set(stored) == {c["symbol"] for c in added}


def test_add_refused_by_the_plan_or_failing_half_way_leaves_finhub_toml_untouched(finhub_env, sandbox, capsys,
                                                                                 tmp_path, monkeypatch):
    config = tmp_path / "finhub.toml"
    before = config.read_bytes()
    monkeypatch.setenv("FINHUB_YAHOO_QUOTA_PER_HOUR", "100")   # a few hundred more stocks do not fit that
    status, out, err = discover(capsys, "us_equities", "--limit", "500", "--add")
    assert status == 1 and "DOES NOT FIT" in out
    assert err.splitlines() == ["finhub: not added: that universe does not fit the quotas (see the plan above); "
                                "list fewer (--limit) or pass --force"]
    assert config.read_bytes() == before
    status, out, err = discover(capsys, "us_equities", "--limit", "500", "--add", "--force")
    assert status == 0 and "DOES NOT FIT" in out and "stocks, 0 cryptos; marked delisted: ZZZQ" in out
    assert len(tomllib.loads(config.read_text())["assets"]["stocks"]) > 400
    config.write_bytes(before)

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.delenv("FINHUB_YAHOO_QUOTA_PER_HOUR")
    monkeypatch.setattr("finhub.config.edit.os.replace", disk_full)
    status, out, err = discover(capsys, "crypto", "--limit", "5", "--add")
    assert status == 1
    assert err == f"finhub: {config} unchanged: [Errno 28] No space left on device\n"
    assert config.read_bytes() == before and list(tmp_path.glob(".finhub.toml*")) == []   # no temporary left


@pytest.mark.parametrize("args, status, message", [
    (["bonds"], 2, "finhub: unknown category 'bonds' (choose from crypto, us_equities, etf)"),
    (["etf", "--exchange", "LSE"], 2, "finhub: unknown exchange LSE (choose from NYSE, NASDAQ, NYSE ARCA, NYSE MKT, "
                                      "BATS)"),
    (["us_equities", "--min-market-cap", "1e9"], 2,
     "finhub: --min-market-cap and --exclude-stable apply to crypto only (listings carry no market cap)"),
    (["crypto", "--limit", "0"], 2, "finhub: --limit must be at least 1, got 0"),
])
def test_bad_arguments_get_one_line(finhub_env, sandbox, capsys, args, status, message):
    assert discover(capsys, *args) == (status, "", message + "\n")


def test_an_unreachable_provider_is_one_line_and_a_failure(finhub_env, sandbox, capsys, monkeypatch):
    monkeypatch.setenv("FINHUB_COINGECKO_URL", "http://127.0.0.1:9/api/v3/")
    status, out, err = discover(capsys, "crypto", "--limit", "5")
    assert status == 1 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("finhub: coingecko unreachable: ")
    monkeypatch.delenv("FINHUB_ALPHAVANTAGE_API_KEY")
    assert discover(capsys, "etf") == (1, "", "finhub: discover etf needs Alpha Vantage: set "
                                              "FINHUB_ALPHAVANTAGE_API_KEY\n")
