"""Dramatiq actors: thin glue over :mod:`finhub.collect`. ``dramatiq actors`` runs them all;
``dramatiq actors -Q prices`` a subset. The broker is set before any actor is defined."""

from finhub.broker import setup_broker
from finhub.logs import configure_logging
from finhub.settings import load_settings

_settings = load_settings()
configure_logging(_settings)
broker = setup_broker(_settings)

from actors.maintenance import cleanup, crypto_rankings, health  # noqa: E402
from actors.prices import crypto_quotes, stock_quotes, validate_and_store, validation_sweep  # noqa: E402
from actors.history import history_bars, market_aggregation  # noqa: E402

__all__ = ["broker", "cleanup", "crypto_rankings", "health", "crypto_quotes", "stock_quotes", "validate_and_store",
           "validation_sweep", "history_bars", "market_aggregation"]
