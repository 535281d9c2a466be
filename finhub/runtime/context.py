"""Everything a job needs, built once per process from the settings: the store, Redis, the
providers, their quotas and breakers. Actors take it from :func:`current`."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property

import redis
from sqlalchemy import Engine

from finhub.config import Settings, load_settings
from finhub.planner.breaker import Breakers
from finhub.planner.quota import Quotas
from finhub.runtime.redis import resolve_redis_url
from finhub.storage import make_engine, migrate
from finhub.universe import Universe, build_universe
from finhub.validation.policy import ValidationPolicy, policy_from_settings
from providers.base import Provider
from providers.registry import build_providers


@dataclass
class Context:
    settings: Settings
    redis_url: str

    @cached_property
    def universe(self) -> Universe:
        return build_universe(self.settings.assets)

    @cached_property
    def engine(self) -> Engine:
        engine = make_engine(self.settings.database)
        migrate(engine)
        return engine

    @cached_property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url, decode_responses=True)

    @cached_property
    def providers(self) -> dict[str, Provider]:
        return build_providers(self.settings)

    @cached_property
    def quotas(self) -> Quotas:
        return Quotas.from_settings(self.redis, self.settings)

    @cached_property
    def breakers(self) -> Breakers:
        return Breakers(self.redis, self.settings.breaker)

    @cached_property
    def validation_policy(self) -> ValidationPolicy:
        return policy_from_settings(self.settings.validation, self.universe)


_current: Context | None = None
_current_lock = threading.Lock()


def current() -> Context:
    """This process's context (worker threads share it; the parts build on first use)."""
    global _current
    with _current_lock:
        if _current is None:
            settings = load_settings()
            _current = Context(settings, resolve_redis_url(settings))
            # Build the shared parts now, under the lock, not racing in eight threads.
            _current.engine, _current.providers, _current.quotas, _current.breakers  # noqa: B018
            _current.validation_policy  # noqa: B018 (a bad per-asset override fails here, once)
        return _current
