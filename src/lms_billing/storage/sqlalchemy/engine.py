"""Storage URLs and SQLAlchemy engines for SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import StaticPool

from lms_billing.errors import ConfigurationError, StorageUnavailableError

DEFAULT_URL = "sqlite:///lms_billing.db"
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0

_POSTGRES_NAMES = frozenset({"postgres", "postgresql"})


def normalize_url(url: str | URL) -> URL:
    """Parse a storage URL; ``postgresql://`` and ``postgres://`` become psycopg 3 URLs.

    :raises ConfigurationError: the URL is malformed or names another database.
    """
    try:
        parsed = sa.make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(f"Malformed storage URL {str(url)!r}.") from exc
    backend, _, driver = parsed.drivername.partition("+")
    if backend in _POSTGRES_NAMES:
        return parsed.set(drivername=f"postgresql+{driver or 'psycopg'}")
    if backend == "sqlite":
        return parsed
    raise ConfigurationError(
        f"The SQLAlchemy storage handles sqlite and postgresql URLs, not {backend!r}.",
        scheme=backend,
    )


def is_sql_url(url: str) -> bool:
    """True for URLs the SQLAlchemy storage opens (``sqlite:``, ``postgres[ql][+driver]:``)."""
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    return ":" in url and (scheme == "sqlite" or scheme in _POSTGRES_NAMES)


def _sqlite_in_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or "mode=memory" in str(url)


def _setup_sqlite(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from pysqlite so that BEGIN is ours (below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_SECONDS * 1000)}")
        if wal:
            # WAL: readers never block the writer; one file stays the whole database.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # IMMEDIATE takes the write lock up front: concurrent units of work queue (up to the
        # busy timeout) instead of failing when a read transaction later wants to write.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


# What a database that cannot be reached, or drops the connection, raises through SQLAlchemy:
# OperationalError (refused, timed out, server gone, SQLite file cannot be opened or is
# locked past the busy timeout), InterfaceError (a closed or broken connection), the pool's
# TimeoutError, and DisconnectionError.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    sa.exc.OperationalError,
    sa.exc.InterfaceError,
    sa.exc.TimeoutError,
    sa.exc.DisconnectionError,
)

_NOT_RETRYABLE_SQLITE = ("unable to open database file", "readonly database", "disk i/o error")


def storage_unavailable(exc: Exception, url: URL) -> StorageUnavailableError:
    """The typed error for a connection failure ``exc`` on ``url`` (password hidden)."""
    backend = url.get_backend_name()
    shown = url.render_as_string(hide_password=True)
    cause = getattr(exc, "orig", None) or exc
    detail = " ".join(str(cause).split()) or type(cause).__name__
    retryable = not (
        backend == "sqlite" and any(text in detail.lower() for text in _NOT_RETRYABLE_SQLITE)
    )
    return StorageUnavailableError(
        f"The {backend} database at {shown} is unavailable: {detail}",
        provider=backend,
        provider_code=getattr(cause, "sqlstate", None),
        retryable=retryable,
        url=shown,
    )


@contextmanager
def connection_errors_translated(url: URL) -> Iterator[None]:
    """Raise :class:`StorageUnavailableError` (chained) for SQLAlchemy connection failures."""
    try:
        yield
    except CONNECTION_ERRORS as exc:
        raise storage_unavailable(exc, url) from exc


def create_engine(url: str | URL, **options: Any) -> Engine:
    """An engine for a SQLite or PostgreSQL storage URL, configured for lms-billing.

    SQLite gets foreign keys, WAL and ``BEGIN IMMEDIATE`` transactions; an in-memory SQLite
    database (``sqlite://``) shares one connection. PostgreSQL uses psycopg 3 with
    pre-ping. ``options`` are passed to :func:`sqlalchemy.create_engine`.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        in_memory = _sqlite_in_memory(parsed)
        if in_memory:
            options.setdefault("poolclass", StaticPool)
            options.setdefault("connect_args", {"check_same_thread": False})
        engine = sa.create_engine(parsed, **options)
        _setup_sqlite(engine, wal=not in_memory)
        return engine
    options.setdefault("pool_pre_ping", True)
    try:
        return sa.create_engine(parsed, **options)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise ConfigurationError(
            f"No database driver for {parsed.drivername!r}; install lms-billing[postgres] "
            "(psycopg 3).",
            driver=parsed.drivername,
        ) from exc


__all__ = [
    "CONNECTION_ERRORS",
    "DEFAULT_URL",
    "connection_errors_translated",
    "create_engine",
    "is_sql_url",
    "normalize_url",
    "storage_unavailable",
]
