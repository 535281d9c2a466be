"""Logging set-up: structlog for finhub, with the standard library's loggers routed through it.

On a terminal the console renderer (coloured); with ``log_format = "json"`` one JSON object a line.
Job log lines bind ``job`` or ``actor`` and the ``provider``/``symbols`` concerned, e.g.
``get_logger(__name__).bind(actor="stock_quotes", provider="yahoo")``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from urllib.parse import urlsplit

import structlog

from finhub.config import Secret, SecretUrl, Settings, strip_secrets

#: Libraries whose INFO chatter is noise in finhub's logs.
#: dramatiq's Retries middleware logs every re-queue ("Retrying message ...") at INFO: finhub counts
#: them instead (finhub.runtime.requeues); APScheduler's scheduler logs each job it adds at INFO.
QUIET_LOGGERS = ("urllib3", "yfinance", "peewee", "apscheduler.executors.default", "apscheduler.scheduler",
                 "alembic", "bs4", "dramatiq.middleware.retries")

#: yfinance warns of every failed cookie or crumb fetch, and logs every failed ticker at ERROR; the
#: Yahoo adapter classifies the same failures (and the breaker logs when Yahoo is down): only
#: yfinance's CRITICAL lines would be news.
QUIETER_LOGGERS = {"yfinance": logging.CRITICAL}


def redact_secrets(secrets: Iterable[str]):
    """A processor that masks secrets wherever they appear in an event: each known secret value, plus
    any API-key query parameter or URL password (:func:`strip_secrets`), in strings, in containers
    (``why={...}``), in objects rendered by ``repr`` (exceptions) and in tracebacks."""
    values = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def mask(text: str) -> str:
        for secret in values:
            if secret in text:
                text = text.replace(secret, "***")
        return strip_secrets(text)

    def clean(value):
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, str):
            return mask(value)
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            return type(value)(clean(v) for v in value) if not isinstance(value, tuple) else tuple(
                clean(v) for v in value)
        text = repr(value)
        masked = mask(text)
        return value if masked == text else masked

    def processor(logger, method_name, event_dict):
        if event_dict.get("exc_info"):
            # Render the traceback now so that its messages are masked too (URLs with keys live there).
            event_dict = structlog.processors.format_exc_info(logger, method_name, event_dict)
        for key, value in list(event_dict.items()):
            if not key.startswith("_"):
                event_dict[key] = clean(value)
        return event_dict

    return processor


def settings_secrets(settings: Settings) -> list[str]:
    """Every secret value in ``settings`` (API keys, full URLs holding passwords)."""
    found: list[str] = []

    def walk(obj) -> None:
        if isinstance(obj, Secret):
            found.append(obj.reveal())
            if isinstance(obj, SecretUrl):
                found.append(urlsplit(obj.reveal()).password or "")
        elif hasattr(obj, "__dataclass_fields__"):
            for name in obj.__dataclass_fields__:
                walk(getattr(obj, name))

    walk(settings)
    return found


def configure_logging(settings: Settings, stream=None) -> None:
    """Route structlog and stdlib logging to ``stream`` (stderr) in the configured format."""
    stream = stream or sys.stderr
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets(settings_secrets(settings)),
    ]
    renderer: structlog.typing.Processor
    if settings.log_format == "json":
        renderer = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.format_exc_info)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=stream.isatty())
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    for name, level in QUIETER_LOGGERS.items():
        logging.getLogger(name).setLevel(max(level, root.level))
    structlog.configure(
        processors=shared + [structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def get_logger(name: str | None = None, **bound) -> structlog.stdlib.BoundLogger:
    """A finhub logger, optionally with context already bound."""
    return structlog.get_logger(name).bind(**bound) if bound else structlog.get_logger(name)
