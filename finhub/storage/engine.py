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
    """An engine for ``url``; ``postgresql://`` uses psycopg 3, SQLite gets WAL and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT}, **kwargs)
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
