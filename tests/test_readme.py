"""The README documents every setting and the commands users copy from it."""

from pathlib import Path

from finhub.config import describe

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_setting_and_variable_is_documented():
    for key, env, _default, _doc in describe():
        assert f"`{key}`" in README, key
        if env.startswith("FINHUB_"):
            assert f"`{env}`" in README, env


def test_the_two_commands_are_shown():
    assert "./scripts/run" in README and "./scripts/test" in README
