"""The provider tests: the sandbox (tests/conftest.py) with its controls reset around every test, adapters on it."""

import tempfile

import pytest

from finhub.config import Secret
from finhub.universe import build_universe
from providers.alphavantage import AlphaVantageProvider
from providers.coingecko import CoinGeckoProvider
from providers.yahoo import YahooProvider

#: Short timeouts keep the hanging-endpoint tests quick.
TIMEOUT = 1.0
UNIVERSE = build_universe()


@pytest.fixture
def sandbox(sandbox_server):
    sandbox_server.reset()
    yield sandbox_server
    sandbox_server.reset()


@pytest.fixture(scope="session")
def yahoo(sandbox_server):
    return YahooProvider(sandbox_server.url, timeout=TIMEOUT, cache_dir=tempfile.mkdtemp(prefix="yf-cache-"))


@pytest.fixture(scope="session")
def coingecko(sandbox_server):
    return CoinGeckoProvider(sandbox_server.coingecko_url, timeout=TIMEOUT)


@pytest.fixture(scope="session")
def alphavantage(sandbox_server):
    return AlphaVantageProvider(Secret("test-key"), sandbox_server.alphavantage_url, timeout=TIMEOUT)
