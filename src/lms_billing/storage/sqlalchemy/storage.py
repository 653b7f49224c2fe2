"""SQLAlchemy storage: units of work on SQLite or PostgreSQL connections."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL

from lms_billing.errors import ConfigurationError
from lms_billing.storage.entities import CUSTOMERS, PLANS, PRICES, PRODUCTS
from lms_billing.storage.sqlalchemy.engine import (
    CONNECTION_ERRORS,
    DEFAULT_URL,
    connection_errors_translated,
    create_engine,
    storage_unavailable,
)
from lms_billing.storage.sqlalchemy.repositories import (
    SqlCustomerRepository,
    SqlIdempotencyRepository,
    SqlPlanRepository,
    SqlPriceRepository,
    SqlProductRepository,
)
from lms_billing.storage.sqlalchemy.repositories_invoicing import SqlInvoicing
from lms_billing.storage.sqlalchemy.repositories_payments import SqlPayments
from lms_billing.storage.sqlalchemy.repositories_subscriptions import SqlSubscriptions
from lms_billing.storage.wiring import RepositorySlots, attach_repositories


def _discard(connection: sa.Connection) -> None:
    """Roll back after a failure; a connection that is already broken is left to the pool
    (it invalidates it), and the original error is what the caller sees."""
    if not connection.in_transaction():
        return
    with suppress(*CONNECTION_ERRORS):
        connection.rollback()


def _missing_table(exc: sa.exc.DBAPIError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate == "42P01" or "no such table" in str(exc.orig)


class SQLAlchemyUnitOfWork(RepositorySlots):
    """One database transaction on one connection; see ``storage.base.UnitOfWork``."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection
        self.customers = SqlCustomerRepository(connection, CUSTOMERS)
        self.products = SqlProductRepository(connection, PRODUCTS)
        self.prices = SqlPriceRepository(connection, PRICES)
        self.plans = SqlPlanRepository(connection, PLANS)
        self.idempotency = SqlIdempotencyRepository(connection)
        attach_repositories(
            self, SqlInvoicing(connection), SqlSubscriptions(connection), SqlPayments(connection)
        )

    def commit(self) -> None:
        # The next statement autobegins a new transaction, so the unit of work stays usable.
        self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()


class SQLAlchemyStorage:
    """Storage in SQLite (default, embedded) or PostgreSQL, reached by URL.

    >>> storage = SQLAlchemyStorage("sqlite://")
    >>> storage.migrate()
    >>> with storage.unit_of_work() as uow:
    ...     uow.products.list()
    []
    """

    name = "sqlalchemy"

    def __init__(self, url: str | URL = DEFAULT_URL, **engine_options: Any) -> None:
        self.engine = create_engine(url, **engine_options)
        self.url = self.engine.url.render_as_string(hide_password=True)
        self._sqlite = self.engine.dialect.name == "sqlite"
        self._open_here = threading.local()

    @contextmanager
    def unit_of_work(self) -> Iterator[SQLAlchemyUnitOfWork]:
        if self._sqlite:
            # SQLite transactions start with BEGIN IMMEDIATE (one writer at a time): a second
            # unit of work in the same thread would wait for the first forever. Fail fast.
            if getattr(self._open_here, "active", False):
                raise ConfigurationError(
                    "SQLite storage allows one open unit of work per thread; finish the open "
                    "one before starting another."
                )
            self._open_here.active = True
        try:
            with connection_errors_translated(self.engine.url):
                connection = self.engine.connect()
            with connection:
                uow = SQLAlchemyUnitOfWork(connection)
                try:
                    yield uow
                except sa.exc.DBAPIError as exc:
                    _discard(connection)
                    if _missing_table(exc):
                        raise ConfigurationError(
                            "The lms-billing tables do not exist (or are outdated) in "
                            f"{self.url}; run `lms-billing migrate` or storage.migrate().",
                            url=self.url,
                        ) from exc
                    if isinstance(exc, CONNECTION_ERRORS):
                        raise storage_unavailable(exc, self.engine.url) from exc
                    raise
                except BaseException:
                    _discard(connection)
                    raise
                else:
                    # Whatever was not committed is discarded.
                    with connection_errors_translated(self.engine.url):
                        if connection.in_transaction():
                            connection.rollback()
        finally:
            if self._sqlite:
                self._open_here.active = False

    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to ``revision`` (default: the latest).

        :raises StorageUnavailableError: the database cannot be reached.
        """
        from lms_billing.storage.sqlalchemy.migrate import upgrade

        upgrade(self.engine, revision)

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"SQLAlchemyStorage({self.url!r})"


__all__ = ["SQLAlchemyStorage", "SQLAlchemyUnitOfWork"]
