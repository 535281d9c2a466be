"""Settings: defaults, then an optional ``finhub.toml``, then ``FINHUB_*`` environment variables.

:mod:`~finhub.config.schema` holds the tables and their checks, :mod:`~finhub.config.loader` reads
the file and the environment, :mod:`~finhub.config.secrets` the values never to print.
"""

from finhub.config.loader import CONFIG_ENV, describe, load_settings
from finhub.config.schema import (
    PROVIDER_NAMES,
    AlphaVantageSettings,
    AssetsSettings,
    BreakerSettings,
    CoinGeckoSettings,
    FallbackSettings,
    HistorySettings,
    ProvidersSettings,
    QuotaSettings,
    ScheduleSettings,
    Settings,
    SettingsError,
    ValidationSettings,
    YahooSettings,
)
from finhub.config.secrets import Secret, SecretUrl, redact_url, strip_secrets

__all__ = [
    "CONFIG_ENV", "PROVIDER_NAMES", "AlphaVantageSettings", "AssetsSettings", "BreakerSettings", "CoinGeckoSettings",
    "FallbackSettings", "HistorySettings", "ProvidersSettings", "QuotaSettings", "ScheduleSettings", "Secret",
    "SecretUrl", "Settings", "SettingsError", "ValidationSettings", "YahooSettings", "describe", "load_settings",
    "redact_url", "strip_secrets",
]
