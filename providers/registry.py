"""The one list of providers: per provider its name, adapter class, the asset field that names an
asset there, and its settings table (timeouts, batch size, quota). Adapters are imported when
built, so reading the registry (the planner, the driver, ``status``) never imports yfinance."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from finhub.config import QuotaSettings, Settings
from finhub.model import Asset
from providers.base import Provider


@dataclass(frozen=True)
class Registered:
    name: str
    #: ``module:Class`` of the adapter
    adapter: str
    #: the :class:`~finhub.model.Asset` field holding the asset's name at this provider
    asset_field: str
    #: whether the provider is off without an API key
    needs_key: bool = False

    def settings(self, settings: Settings) -> Any:
        """This provider's table of ``[providers]``."""
        return getattr(settings.providers, self.name)

    def enabled(self, settings: Settings) -> bool:
        return not self.needs_key or bool(self.settings(settings).api_key)

    def batch_size(self, settings: Settings) -> int:
        """Assets one quote call answers."""
        return getattr(self.settings(settings), "batch_size", 1)

    def quota(self, settings: Settings) -> QuotaSettings:
        return self.settings(settings).quota

    def serves(self, asset: Asset) -> bool:
        """Whether ``asset`` has a name at this provider."""
        return bool(getattr(asset, self.asset_field))

    def build(self, settings: Settings) -> Provider | None:
        module, cls = self.adapter.split(":")
        return getattr(importlib.import_module(module), cls).from_settings(settings)


PROVIDERS: tuple[Registered, ...] = (
    Registered("yahoo", "providers.yahoo:YahooProvider", "yahoo"),
    Registered("coingecko", "providers.coingecko:CoinGeckoProvider", "coingecko_id"),
    Registered("alphavantage", "providers.alphavantage:AlphaVantageProvider", "alphavantage", needs_key=True),
)
BY_NAME = {p.name: p for p in PROVIDERS}


def build_providers(settings: Settings) -> dict[str, Provider]:
    """Every enabled provider's adapter by name."""
    built = {p.name: p.build(settings) for p in PROVIDERS if p.enabled(settings)}
    return {name: provider for name, provider in built.items() if provider is not None}
