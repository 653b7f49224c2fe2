"""Storage behind the storage port: SQLAlchemy (SQLite default, PostgreSQL) and memory.

>>> storage = open_storage("memory://")
>>> with storage.unit_of_work() as uow:
...     uow.customers.list()
[]
"""

from __future__ import annotations

from lms_billing.errors import ConfigurationError
from lms_billing.storage.base import (
    CustomerRepository,
    IdempotencyRecord,
    IdempotencyRepository,
    PlanRepository,
    PriceRepository,
    ProductRepository,
    Storage,
    UnitOfWork,
)
from lms_billing.storage.plugin import BUILTIN_BACKENDS
from lms_billing.storage.sqlalchemy.engine import DEFAULT_URL as DEFAULT_STORAGE_URL


def open_storage(url: str = DEFAULT_STORAGE_URL, *, migrate: bool = False) -> Storage:
    """Open a built-in storage by URL: ``memory://``, ``sqlite:///file.db``,
    ``postgresql://user@host/db`` (psycopg 3).

    Plugin backends are reached through the plugin host (``PluginHost.storage_backend_for``).

    :param migrate: also create or upgrade the schema (``storage.migrate()``).
    :raises ConfigurationError: no built-in backend handles the URL.
    """
    for backend in BUILTIN_BACKENDS:
        if backend.handles(url):
            storage = backend.open(url)
            if migrate:
                storage.migrate()
            return storage
    scheme = url.split(":", 1)[0]
    raise ConfigurationError(f"No built-in storage handles {scheme!r} URLs.", scheme=scheme)


def migrate(url: str, revision: str = "head") -> None:
    """Create or upgrade lms-billing's tables at a SQL ``url`` (``lms-billing migrate``)."""
    from lms_billing.storage.sqlalchemy.migrate import migrate as _migrate

    _migrate(url, revision)


__all__ = [
    "DEFAULT_STORAGE_URL",
    "CustomerRepository",
    "IdempotencyRecord",
    "IdempotencyRepository",
    "PlanRepository",
    "PriceRepository",
    "ProductRepository",
    "Storage",
    "UnitOfWork",
    "migrate",
    "open_storage",
]
