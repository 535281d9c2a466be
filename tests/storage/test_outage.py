"""A database that cannot be reached now is "retry later" until the outage tolerance is spent;
bad data and schema errors are not."""

import socket
import sqlite3
import time

import dramatiq
import psycopg
import pytest
from dramatiq.broker import MessageProxy
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import exc as sa
from sqlalchemy import text

from finhub.runtime.broker import OUTAGE_MAX_BACKOFF_MS, Retries
from finhub.storage import is_outage, make_engine


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wrapped(cls, orig, invalidated=False):
    return cls("INSERT ...", {}, orig, connection_invalidated=invalidated)


def test_an_unreachable_postgresql_is_an_outage():
    engine = make_engine(f"postgresql://u@127.0.0.1:{_closed_port()}/db")
    with pytest.raises(sa.OperationalError) as raised, engine.connect() as c:
        c.execute(text("SELECT 1"))
    assert is_outage(raised.value)


def test_a_locked_sqlite_past_its_busy_timeout_is_an_outage(tmp_path, monkeypatch):
    monkeypatch.setattr("finhub.storage.engine.SQLITE_BUSY_TIMEOUT", 0.2)
    path = tmp_path / "db.sqlite"
    holder = sqlite3.connect(path)
    holder.execute("CREATE TABLE t (x)")
    holder.commit()
    holder.execute("BEGIN EXCLUSIVE")
    engine = make_engine(f"sqlite:///{path}")
    try:
        with pytest.raises(sa.OperationalError) as raised, engine.begin() as c:
            c.execute(text("INSERT INTO t VALUES (1)"))
        assert is_outage(raised.value)
    finally:
        holder.rollback()
        holder.close()


@pytest.mark.parametrize("error, outage", [
    (_wrapped(sa.OperationalError, psycopg.OperationalError("server closed the connection unexpectedly")), True),
    (_wrapped(sa.InterfaceError, psycopg.InterfaceError("the connection is closed")), True),
    (_wrapped(sa.DBAPIError, Exception("terminating connection"), invalidated=True), True),
    (sa.TimeoutError("QueuePool limit reached"), True),
    (psycopg.OperationalError("connection refused"), True),
    (_wrapped(sa.OperationalError, sqlite3.OperationalError("database is locked")), True),
    (_wrapped(sa.OperationalError, sqlite3.OperationalError("no such table: prices")), False),  # schema
    (_wrapped(sa.IntegrityError, sqlite3.IntegrityError("NOT NULL constraint failed")), False),  # bad data
    (_wrapped(sa.ProgrammingError, psycopg.ProgrammingError("column does not exist")), False),   # schema
    (_wrapped(sa.DataError, psycopg.DataError("numeric field overflow")), False),
    (ValueError("price must be positive"), False),
])
def test_only_connection_level_errors_are_outages(error, outage):
    assert is_outage(error) is outage


@pytest.fixture(autouse=True)
def _quiet_broker_log(monkeypatch):
    """The middleware's warnings go to a stand-in: structlog caches a logger on first use, and the
    broker's real one must first be used under the capture of tests/test_worker_boot.py."""
    from unittest.mock import MagicMock

    monkeypatch.setattr("finhub.runtime.broker.log", MagicMock())


class _Broker(StubBroker):
    """Records what the Retries middleware re-enqueues instead of queueing it."""

    def __init__(self, tolerance):
        super().__init__(middleware=[Retries(max_retries=2, min_backoff=10, outage_tolerance=tolerance)])
        self.enqueued = []

    def enqueue(self, message, *, delay=None):
        if delay is None:
            return super().enqueue(message)
        self.enqueued.append((message, delay))
        return message


def _after(broker, actor, exception, age_s=0.0):
    message = actor.message([{"symbol": "BTC"}])
    message = MessageProxy(message.copy(message_timestamp=int((time.time() - age_s) * 1000)))
    for middleware in broker.middleware:
        middleware.after_process_message(broker, message, exception=exception)
    return message


OUTAGE = _wrapped(sa.OperationalError, psycopg.OperationalError("connection refused"))


def test_an_outage_is_retried_until_the_message_is_as_old_as_the_tolerance_then_dead_lettered():
    broker = _Broker(tolerance=600)
    actor = dramatiq.actor(lambda observations: None, actor_name="store", broker=broker, max_retries=2)
    young = _after(broker, actor, OUTAGE, age_s=590)  # retried: far more often than max_retries
    assert not young.failed and len(broker.enqueued) == 1
    retried, delay = broker.enqueued[0]
    assert retried.options["db_retries"] == 1 and "retries" not in retried.options
    assert delay <= 10_000  # never past the tolerance
    for attempt in range(10):
        message = MessageProxy(retried.copy(options={**retried.options, "db_retries": attempt}))
        for middleware in broker.middleware:
            middleware.after_process_message(broker, message, exception=OUTAGE)
    assert all(d <= OUTAGE_MAX_BACKOFF_MS for _, d in broker.enqueued)
    old = _after(broker, actor, OUTAGE, age_s=601)
    assert old.failed


def test_a_schema_error_is_not_waited_out_and_a_job_without_retries_is_dropped_not_dead_lettered():
    broker = _Broker(tolerance=600)
    actor = dramatiq.actor(lambda: None, actor_name="schema", broker=broker, max_retries=0)
    bad = _wrapped(sa.ProgrammingError, psycopg.ProgrammingError("relation does not exist"))
    assert _after(broker, actor, bad).failed
    periodic = _after(broker, actor, OUTAGE)
    assert not periodic.failed and not broker.enqueued
