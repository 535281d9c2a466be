"""Logging: JSON lines on request, readable console otherwise, context bound, secrets never printed."""

import io
import json
import logging

from finhub.config import load_settings
from finhub.logs import configure_logging, get_logger


def test_json_lines_carry_the_bound_context_and_stdlib_records():
    stream = io.StringIO()
    configure_logging(load_settings(environ={"FINHUB_LOG_FORMAT": "json"}), stream=stream)
    get_logger("finhub.test", actor="stock_quotes", provider="yahoo").info("fetched", symbols=["AAPL", "MSFT"])
    logging.getLogger("dramatiq.worker").warning("library line")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["event"] == "fetched" and first["actor"] == "stock_quotes" and first["provider"] == "yahoo"
    assert first["symbols"] == ["AAPL", "MSFT"] and first["level"] == "info" and first["timestamp"].endswith("Z")
    assert second["event"] == "library line" and second["logger"] == "dramatiq.worker"


def test_console_format_is_readable_text():
    stream = io.StringIO()
    configure_logging(load_settings(environ={"FINHUB_LOG_FORMAT": "console"}), stream=stream)
    get_logger("finhub.test").warning("quota low", provider="alphavantage")
    line = stream.getvalue()
    assert "quota low" in line and "provider=alphavantage" in line and not line.startswith("{")


def test_secrets_are_redacted_from_every_log_line():
    stream = io.StringIO()
    settings = load_settings(environ={"FINHUB_LOG_FORMAT": "json", "FINHUB_ALPHAVANTAGE_API_KEY": "AVSECRET42",
                                      "FINHUB_REDIS_URL": "redis://:pw-hunter2@localhost:6379/0"})
    configure_logging(settings, stream=stream)
    get_logger("finhub.test").error("call failed", url="https://x/query?apikey=AVSECRET42")
    logging.getLogger("redis").error("cannot connect to redis://:pw-hunter2@localhost:6379/0")
    logging.getLogger("redis").error("AUTH pw-hunter2 refused")
    text = stream.getvalue()
    assert "AVSECRET42" not in text and "pw-hunter2" not in text and text.count("***") == 3
