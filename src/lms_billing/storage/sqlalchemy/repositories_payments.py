"""Payment repositories on the unit of work's SQLAlchemy Core connection.

Unique constraints do the concurrency work: a webhook delivered twice at once inserts one
inbox row and the other insert fails with :class:`~lms_billing.errors.AlreadyExistsError`
(inside a savepoint, so the transaction stays usable).
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import TypeVar

import sqlalchemy as sa
from pydantic import BaseModel

from lms_billing.domain.payment_records import (
    DunningState,
    DunningStatus,
    GatewayCustomerLink,
    Payment,
    Refund,
    StoredPaymentMethod,
    WebhookInboxEntry,
)
from lms_billing.storage.base import check_limit
from lms_billing.storage.entities import EntitySpec, utc
from lms_billing.storage.entities_payments import (
    DUNNING_STATES,
    GATEWAY_CUSTOMERS,
    PAYMENT_METHODS,
    PAYMENTS,
    REFUNDS,
    WEBHOOK_EVENTS,
)
from lms_billing.storage.queries import (
    GatewayCustomerQueries,
    PaymentMethodQueries,
    PaymentQueries,
    RefundQueries,
    WebhookInboxQueries,
)
from lms_billing.storage.sqlalchemy.repositories import _SqlRepository
from lms_billing.storage.sqlalchemy.tables_payments import PAYMENT_TABLES

M = TypeVar("M", bound=BaseModel)


class _Repo(_SqlRepository[M]):
    """A repository over one of the payment tables."""

    def __init__(self, connection: sa.Connection, spec: EntitySpec[M]) -> None:
        self._conn = connection
        self._spec = spec
        self._table = PAYMENT_TABLES[spec.table]
        self._seen: dict[str, int] = {}


class SqlPaymentMethodRepository(_Repo[StoredPaymentMethod], PaymentMethodQueries):
    pass


class SqlGatewayCustomerRepository(_Repo[GatewayCustomerLink], GatewayCustomerQueries):
    pass


class SqlPaymentRepository(_Repo[Payment], PaymentQueries):
    def created_since(self, since: datetime, limit: int) -> builtins.list[Payment]:
        check_limit(limit)
        table = self._table
        query = (
            self._select()
            .where(table.c.created_at >= utc(since))
            .order_by(table.c.created_at.desc(), table.c.id.desc())
            .limit(limit)
        )
        return [self._rebuild(row) for row in self._conn.execute(query)]


class SqlRefundRepository(_Repo[Refund], RefundQueries):
    pass


class SqlWebhookInboxRepository(_Repo[WebhookInboxEntry], WebhookInboxQueries):
    pass


class SqlDunningRepository(_Repo[DunningState]):
    def due(self, at: datetime, limit: int) -> builtins.list[DunningState]:
        check_limit(limit)
        table = self._table
        query = (
            self._select()
            .where(
                table.c.status.in_([DunningStatus.PENDING.value, DunningStatus.ACTIVE.value]),
                table.c.next_retry_at <= utc(at),
            )
            .order_by(table.c.next_retry_at, table.c.id)
            .limit(limit)
        )
        return [self._rebuild(row) for row in self._conn.execute(query)]


class SqlPayments:
    """The payment repositories of one SQL unit of work."""

    def __init__(self, connection: sa.Connection) -> None:
        self.payment_methods = SqlPaymentMethodRepository(connection, PAYMENT_METHODS)
        self.gateway_customers = SqlGatewayCustomerRepository(connection, GATEWAY_CUSTOMERS)
        self.payments = SqlPaymentRepository(connection, PAYMENTS)
        self.refunds = SqlRefundRepository(connection, REFUNDS)
        self.webhook_events = SqlWebhookInboxRepository(connection, WEBHOOK_EVENTS)
        self.dunning = SqlDunningRepository(connection, DUNNING_STATES)


__all__ = [
    "SqlDunningRepository",
    "SqlGatewayCustomerRepository",
    "SqlPaymentMethodRepository",
    "SqlPaymentRepository",
    "SqlPayments",
    "SqlRefundRepository",
    "SqlWebhookInboxRepository",
]
