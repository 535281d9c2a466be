"""Market-data provider adapters behind one interface (:mod:`providers.base`)."""

from __future__ import annotations

from finhub.settings import Settings
from providers.base import Provider


def build_providers(settings: Settings) -> dict[str, Provider]:
    """Every configured provider by name (Alpha Vantage only with an API key)."""
    from providers.alphavantage import AlphaVantageProvider
    from providers.coingecko import CoinGeckoProvider
    from providers.yahoo import YahooProvider

    built = {
        "yahoo": YahooProvider.from_settings(settings),
        "coingecko": CoinGeckoProvider.from_settings(settings),
        "alphavantage": AlphaVantageProvider.from_settings(settings),
    }
    return {name: provider for name, provider in built.items() if provider is not None}
