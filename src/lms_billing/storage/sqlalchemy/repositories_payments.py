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
from lms_billing.domain.payments import PaymentStatus
from lms_billing.storage.base import DEFAULT_LIST_LIMIT, check_limit
from lms_billing.storage.entities import EntitySpec, utc
from lms_billing.storage.entities_payments import (
    DUNNING_STATES,
    GATEWAY_CUSTOMERS,
    PAYMENT_METHODS,
    PAYMENTS,
    REFUNDS,
    WEBHOOK_EVENTS,
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

    def _find(self, **values: object) -> M | None:
        query = self._select()
        for column, value in values.items():
            query = query.where(self._table.c[column] == value)
        row = self._conn.execute(query.limit(1)).first()
        return None if row is None else self._rebuild(row)


class SqlPaymentMethodRepository(_Repo[StoredPaymentMethod]):
    def get_by_token(self, gateway: str, token: str) -> StoredPaymentMethod | None:
        return self._find(gateway=gateway, token=token)

    def list(
        self,
        *,
        customer_id: str | None = None,
        active: bool | None = True,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[StoredPaymentMethod]:
        return self._list({"customer_id": customer_id, "active": active}, limit, starting_after)


class SqlGatewayCustomerRepository(_Repo[GatewayCustomerLink]):
    def get_for(self, customer_id: str, gateway: str) -> GatewayCustomerLink | None:
        return self._find(customer_id=customer_id, gateway=gateway)


class SqlPaymentRepository(_Repo[Payment]):
    def get_by_idempotency_key(self, key: str) -> Payment | None:
        return self._find(idempotency_key=key)

    def get_by_gateway_id(self, gateway: str, gateway_payment_id: str) -> Payment | None:
        return self._find(gateway=gateway, gateway_payment_id=gateway_payment_id)

    def list(
        self,
        *,
        invoice_id: str | None = None,
        customer_id: str | None = None,
        status: PaymentStatus | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[Payment]:
        filters = {
            "invoice_id": invoice_id,
            "customer_id": customer_id,
            "status": None if status is None else PaymentStatus(status).value,
        }
        return self._list(filters, limit, starting_after)

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


class SqlRefundRepository(_Repo[Refund]):
    def get_by_idempotency_key(self, key: str) -> Refund | None:
        return self._find(idempotency_key=key)

    def get_by_gateway_id(self, gateway: str, gateway_refund_id: str) -> Refund | None:
        return self._find(gateway=gateway, gateway_refund_id=gateway_refund_id)

    def list(
        self,
        *,
        payment_id: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[Refund]:
        return self._list({"payment_id": payment_id}, limit, starting_after)


class SqlWebhookInboxRepository(_Repo[WebhookInboxEntry]):
    def get_by_event(self, gateway: str, event_id: str) -> WebhookInboxEntry | None:
        return self._find(gateway=gateway, event_id=event_id)


class SqlDunningRepository(_Repo[DunningState]):
    def due(self, at: datetime, limit: int) -> builtins.list[DunningState]:
        check_limit(limit)
        table = self._table
        query = (
            self._select()
            .where(
                table.c.status == DunningStatus.ACTIVE.value,
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
