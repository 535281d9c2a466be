"""Dramatiq actors: thin glue over :mod:`finhub.jobs`. ``dramatiq actors`` runs them all;
``dramatiq actors -Q prices`` a subset. The broker is set before any actor is defined."""

from finhub.config import load_settings
from finhub.logs import configure_logging
from finhub.runtime.broker import setup_broker

_settings = load_settings()
configure_logging(_settings)
broker = setup_broker(_settings)

from actors.history import history_bars, market_aggregation  # noqa: E402
from actors.maintenance import cleanup, crypto_rankings, health  # noqa: E402
from actors.prices import crypto_quotes, stock_quotes, validate_and_store, validation_sweep  # noqa: E402

__all__ = ["broker", "cleanup", "crypto_rankings", "health", "crypto_quotes", "stock_quotes", "validate_and_store",
           "validation_sweep", "history_bars", "market_aggregation"]
