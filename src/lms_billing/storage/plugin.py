"""The built-in storage backends, registered through the same hook plugins use.

Registered ``trylast``: a plugin that handles the same URLs (say, a tuned PostgreSQL backend)
is asked first and wins.
"""

from __future__ import annotations

from collections.abc import Sequence

from lms_billing.hookspecs import hookimpl
from lms_billing.ports import StorageBackend
from lms_billing.storage.base import Storage


class MemoryBackend:
    """``memory://``: an empty in-process store per ``open`` (tests, experiments)."""

    name = "memory"

    def handles(self, url: str) -> bool:
        return url.split(":", 1)[0].lower() == "memory" and ":" in url

    def open(self, url: str) -> Storage:
        from lms_billing.storage.memory import MemoryStorage

        return MemoryStorage(url)


class SQLAlchemyBackend:
    """``sqlite:///path.db`` (embedded default) and ``postgresql://...`` (psycopg 3)."""

    name = "sqlalchemy"

    def handles(self, url: str) -> bool:
        from lms_billing.storage.sqlalchemy.engine import is_sql_url

        return is_sql_url(url)

    def open(self, url: str) -> Storage:
        from lms_billing.storage.sqlalchemy.storage import SQLAlchemyStorage

        return SQLAlchemyStorage(url)


BUILTIN_BACKENDS: tuple[StorageBackend, ...] = (SQLAlchemyBackend(), MemoryBackend())


@hookimpl(trylast=True)
def lms_billing_storage_backends() -> Sequence[StorageBackend]:
    """lms-billing's own storage backends: SQLAlchemy (SQLite, PostgreSQL) and memory."""
    return list(BUILTIN_BACKENDS)


__all__ = ["BUILTIN_BACKENDS", "MemoryBackend", "SQLAlchemyBackend", "lms_billing_storage_backends"]
