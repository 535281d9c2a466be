"""Settings: defaults, finhub.toml, environment, and one-line errors that name the key."""

import subprocess
import sys
from pathlib import Path

import pytest

from finhub.config import Secret, SecretUrl, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "finhub.toml"
    path.write_text(text)
    return path


def test_defaults_match_the_documented_schedule(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no finhub.toml here
    s = load_settings(environ={})
    # Crypto quotes, trending and top cryptos fit CoinGecko's demo month (docs/quotas.md).
    assert (s.schedule.crypto_quotes, s.schedule.stock_quotes, s.schedule.health) == (360, 300, 60)
    assert (s.schedule.validation_sweep, s.schedule.trending) == (600, 3600)
    assert (s.schedule.top_cryptos, s.schedule.market_aggregation, s.schedule.history) == (21600, 1800, 86400)
    assert s.schedule.cleanup_at == "00:00" and s.retention_days == 365
    assert s.database == "sqlite:///var/finhub.db"


def test_environment_overrides_file_which_overrides_defaults(tmp_path):
    path = write(tmp_path, """
retention_days = 30
[schedule]
crypto_quotes = 60
stock_quotes = 600
[providers.yahoo]
batch_size = 20
""")
    s = load_settings(path, environ={"FINHUB_SCHEDULE_CRYPTO_QUOTES": "90", "FINHUB_YAHOO_URL": "http://127.0.0.1:9/"})
    assert s.retention_days == 30
    assert s.schedule.crypto_quotes == 90  # env wins
    assert s.schedule.stock_quotes == 600  # file wins over default
    assert s.providers.yahoo.batch_size == 20
    assert s.providers.yahoo.url == "http://127.0.0.1:9/"


def test_config_file_named_by_environment(tmp_path):
    path = write(tmp_path, "log_format = 'json'\n")
    assert load_settings(environ={"FINHUB_CONFIG": str(path)}).log_format == "json"


@pytest.mark.parametrize("text, key, problem", [
    ("retention_dayz = 3\n", "retention_dayz", "unknown key"),
    ("[schedule]\ncrypto_quotes = 0\n", "schedule.crypto_quotes", "must be positive"),
    ("[schedule]\ncrypto_quotes = '120'\n", "schedule.crypto_quotes", "must be an integer"),
    ("[schedule]\ncrypto_quotes = 1.5\n", "schedule.crypto_quotes", "must be an integer"),
    ("[schedule]\ntimezone = 'Mars/Olympus'\n", "schedule.timezone", "unknown time zone"),
    ("[schedule]\ncleanup_at = '25:00'\n", "schedule.cleanup_at", "HH:MM"),
    ("[providers.yahoo]\nurl = 'not a url'\n", "providers.yahoo.url", "http(s) URL"),
    ("[providers.nasdaq]\nurl = 'http://x'\n", "providers.nasdaq", "unknown key"),
    ("log_format = 'xml'\n", "log_format", "must be one of"),
    ("database_url = 'mysql://x/y'\n", "database_url", "not supported"),
    ("schedule = 5\n", "schedule", "must be a table"),
])
def test_bad_file_values_name_the_key(tmp_path, text, key, problem):
    with pytest.raises(SettingsError) as info:
        load_settings(write(tmp_path, text), environ={})
    assert info.value.key == key
    assert problem in str(info.value)
    assert "\n" not in str(info.value)


def test_malformed_toml_is_one_line(tmp_path):
    with pytest.raises(SettingsError) as info:
        load_settings(write(tmp_path, "[schedule\ncrypto_quotes = 1\n"), environ={})
    assert "not valid TOML" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("env, key, problem", [
    ({"FINHUB_SCHEDULE_STOCK_QUOTES": "-5"}, "FINHUB_SCHEDULE_STOCK_QUOTES", "must be positive"),
    ({"FINHUB_SCHEDULE_STOCK_QUOTES": "often"}, "FINHUB_SCHEDULE_STOCK_QUOTES", "must be an integer"),
    ({"FINHUB_REDIS_URL": "localhost:6379"}, "FINHUB_REDIS_URL", "redis://"),
    ({"FINHUB_DATABSE_URL": "sqlite://"}, "FINHUB_DATABSE_URL", "unknown environment variable"),
    ({"FINHUB_CONFIG": "/nonexistent/finhub.toml"}, "FINHUB_CONFIG", "does not exist"),
])
def test_bad_environment_values_name_the_variable(env, key, problem):
    with pytest.raises(SettingsError) as info:
        load_settings(environ=env)
    assert info.value.key == key and problem in str(info.value)


def test_secrets_never_show_in_repr_or_errors(tmp_path):
    s = load_settings(environ={
        "FINHUB_ALPHAVANTAGE_API_KEY": "AVKEY12345",
        "FINHUB_COINGECKO_API_KEY": "CG-SECRET-99",
        "FINHUB_REDIS_URL": "redis://:hunter2pw@redis.example:6380/1",
        "FINHUB_DATABASE_URL": "postgresql://app:dbpass77@db.example/finhub",
    })
    text = repr(s) + str(s)
    for secret in ("AVKEY12345", "CG-SECRET-99", "hunter2pw", "dbpass77"):
        assert secret not in text
    assert str(s.redis_url) == "redis://:***@redis.example:6380/1"
    assert s.redis_url.reveal() == "redis://:hunter2pw@redis.example:6380/1"
    assert s.providers.alphavantage.api_key.reveal() == "AVKEY12345"
    assert s.database == "postgresql://app:dbpass77@db.example/finhub"
    with pytest.raises(SettingsError) as info:
        load_settings(environ={"FINHUB_REDIS_URL": "http://:leakme99@x"})
    assert "leakme99" not in str(info.value)
    assert isinstance(s.redis_url, SecretUrl) and isinstance(s.providers.coingecko.api_key, Secret)


def test_cli_reports_a_bad_key_in_one_line_and_exit_2(tmp_path):
    (tmp_path / "finhub.toml").write_text("[schedule]\nhealth = -1\n")
    proc = subprocess.run([sys.executable, "-m", "finhub", "config"], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "schedule.health" in lines[0] and "must be positive" in lines[0]
