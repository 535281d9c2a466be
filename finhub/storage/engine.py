"""Connecting to the database (SQLite by default, PostgreSQL through psycopg 3) and migrating it."""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from alembic.config import Config

#: Seconds a SQLite writer waits for another process's write lock before failing.
SQLITE_BUSY_TIMEOUT = 30
#: Seconds to wait for PostgreSQL to accept a connection (an unreachable host would block a worker).
POSTGRES_CONNECT_TIMEOUT = 10
#: PostgreSQL advisory lock key serialising migrations across processes.
MIGRATION_LOCK_KEY = 0x66696E687562  # "finhub"


def make_engine(url: str, **kwargs) -> Engine:
    """An engine for ``url``; ``postgresql://`` uses psycopg 3, SQLite gets WAL and a busy timeout.

    The pool pings a connection before handing it out: one that died with the server (a restart, a
    failover) is replaced instead of failing the next statement."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, pool_pre_ping=True, connect_args={"timeout": SQLITE_BUSY_TIMEOUT}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args = {"connect_timeout": POSTGRES_CONNECT_TIMEOUT, **kwargs.pop("connect_args", {})}
    return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args, **kwargs)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT * 1000}")
    cursor.close()


def alembic_config(engine: Engine | None = None) -> Config:
    """Alembic's configuration for finhub's migrations (bound to ``engine`` when given)."""
    from alembic.config import Config  # imported here: ~0.3 s and 10 MB a process that never migrates

    config = Config()
    config.set_main_option("script_location", "finhub.storage:migrations")
    if engine is not None:
        # configparser interpolates "%": URL-encoded options (%3D) must be escaped.
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def migrate(engine: Engine) -> None:
    """Create or upgrade the tables to the newest revision, keeping existing data.

    Safe when several processes start at once: PostgreSQL serialises on an advisory lock, SQLite on
    a lock file beside the database.
    """
    from alembic import command

    with _migration_lock(engine), engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@contextmanager
def _migration_lock(engine: Engine):
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def insert(table, dialect):
    """An INSERT into ``table`` in ``dialect``'s flavour, which knows ``ON CONFLICT``."""
    return (postgresql.insert if dialect.name == "postgresql" else sqlite.insert)(table)


#: SQLite's messages for a database it cannot reach now (another writer past the busy timeout, a
#: file that went away): the same statement succeeds later. Others ("no such table") do not.
_SQLITE_TRANSIENT = ("database is locked", "database table is locked", "unable to open database file",
                     "disk i/o error")


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the database is unreachable now (retry later), not that the data or the
    schema is wrong (IntegrityError, ProgrammingError, DataError: retrying cannot help).

    Unreachable: a connection SQLAlchemy invalidated (a disconnect), an ``OperationalError`` or
    ``InterfaceError`` from PostgreSQL (refused, reset, server shutting down or starting up), a pool
    timeout, and SQLite's "database is locked" past its busy timeout.
    """
    from sqlalchemy import exc as sa

    if isinstance(exc, sa.DBAPIError):
        if exc.connection_invalidated:
            return True
        if isinstance(exc, sa.OperationalError | sa.InterfaceError):
            return _raw_outage(exc.orig)
        return False
    if isinstance(exc, sa.TimeoutError):  # no pooled connection came free
        return True
    return _raw_outage(exc)


def _raw_outage(exc: BaseException | None) -> bool:
    import sqlite3

    if isinstance(exc, sqlite3.OperationalError):
        return any(m in str(exc).lower() for m in _SQLITE_TRANSIENT)
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
