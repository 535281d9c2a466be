"""The ``validation`` settings: built into the policy decide() uses; bad values are one-line errors."""

from datetime import timedelta

import pytest

from finhub.config import SettingsError, load_settings
from finhub.universe import build_universe
from finhub.validation import CRYPTO_LIMITS, DEFAULT_POLICY, Limits
from finhub.validation.policy import policy_from_settings

UNIVERSE = build_universe()


def settings(tmp_path, toml="", **env):
    path = tmp_path / "finhub.toml"
    path.write_text(toml)
    return load_settings(path, environ=env)


def test_defaults_are_the_policy_defaults(tmp_path):
    assert policy_from_settings(settings(tmp_path).validation, UNIVERSE) == DEFAULT_POLICY


def test_per_type_values_and_per_asset_overrides(tmp_path):
    s = settings(tmp_path, "[validation]\nstock_tolerance_pct = 0.5\ncrosscheck_crypto = false\n"
                           "[validation.assets.DOGE]\ntolerance_pct = 5\nheartbeat = 60\n"
                           "[validation.assets.TSLA]\njump_pct = 40\n",
                 FINHUB_VALIDATION_STOCK_SPOT_CHECKS="3", FINHUB_VALIDATION_CROSSCHECK_CRYPTO="yes")
    assert (s.validation.stock_spot_checks, s.validation.crosscheck_crypto) == (3, True)  # environment wins
    policy = policy_from_settings(s.validation, UNIVERSE)
    assert policy.limits("AAPL", UNIVERSE["AAPL"].asset_type).tolerance == 0.005
    assert policy.limits("DOGE", UNIVERSE["DOGE"].asset_type) == Limits(0.05, CRYPTO_LIMITS.jump, timedelta(seconds=60))
    assert policy.limits("TSLA", UNIVERSE["TSLA"].asset_type) == Limits(0.005, 0.40, timedelta(minutes=30))


@pytest.mark.parametrize("toml, env, key, problem", [
    ("[validation]\ncrypto_tolerance_pct = -1\n", {}, "validation.crypto_tolerance_pct", "must be positive"),
    ("[validation]\nstock_tolerance_pct = 25\n", {}, "validation.stock_tolerance_pct", "must be below"),
    ("[validation]\ncrosscheck_crypto = 'yes'\n", {}, "validation.crosscheck_crypto", "must be true or false"),
    ("", {"FINHUB_VALIDATION_CROSSCHECK_CRYPTO": "sometimes"}, "FINHUB_VALIDATION_CROSSCHECK_CRYPTO",
     "must be true or false"),
    ("[validation]\nassets = 5\n", {}, "validation.assets", "must be a table"),
    ("[validation.assets.BTC]\ntolerance = 5\n", {}, "validation.assets.BTC.tolerance", "unknown key"),
    ("[validation.assets.BTC]\nheartbeat = 0\n", {}, "validation.assets.BTC.heartbeat", "positive number"),
])
def test_bad_values_name_the_key_in_one_line(tmp_path, toml, env, key, problem):
    with pytest.raises(SettingsError) as info:
        settings(tmp_path, toml, **env)
    assert info.value.key == key and problem in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("toml, key, problem", [
    ("[validation.assets.NOPE]\ntolerance_pct = 5\n", "validation.assets.NOPE", "not an asset of the universe"),
    ("[validation.assets.BTC]\ntolerance_pct = 50\n", "validation.assets.BTC", "need 0 < tolerance < jump"),
])
def test_bad_overrides_are_caught_when_the_policy_is_built(tmp_path, toml, key, problem):
    with pytest.raises(SettingsError) as info:
        policy_from_settings(settings(tmp_path, toml).validation, UNIVERSE)
    assert info.value.key == key and problem in str(info.value)
