"""Fixtures shared by the command tests at this level."""

import os

import pytest

from finhub.sandbox import Sandbox
from finhub.storage import make_engine, migrate


@pytest.fixture
def cli_database(tmp_path, monkeypatch):
    """An empty, migrated SQLite store that ``python -m finhub`` commands use, with no other settings."""
    for name in [n for n in os.environ if n.startswith("FINHUB_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FINHUB_DATABASE_URL", f"sqlite:///{tmp_path / 'finhub.db'}")
    monkeypatch.setenv("FINHUB_CONFIG", str(tmp_path / "finhub.toml"))
    (tmp_path / "finhub.toml").touch()
    engine = make_engine(f"sqlite:///{tmp_path / 'finhub.db'}")
    migrate(engine)
    return engine


@pytest.fixture(scope="session")
def sandbox_server():
    """One provider sandbox for the session; each directory's ``sandbox`` fixture resets its controls."""
    with Sandbox() as sb:
        yield sb
