"""In-memory payment repositories (``memory://``), behaving like the SQL ones.

Composite unique keys (``(gateway, event_id)`` in the webhook inbox, ...) are checked when
written and again at commit, like the single-column ones in :mod:`lms_billing.storage.memory`.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

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
from lms_billing.errors import AlreadyExistsError
from lms_billing.storage.base import check_limit
from lms_billing.storage.entities import EntitySpec, utc
from lms_billing.storage.entities_payments import (
    COMPOSITE_UNIQUE,
    DUNNING_STATES,
    GATEWAY_CUSTOMERS,
    PAYMENT_METHODS,
    PAYMENTS,
    REFUNDS,
    WEBHOOK_EVENTS,
)
from lms_billing.storage.memory import _MemoryRepository, _Row
from lms_billing.storage.queries import (
    GatewayCustomerQueries,
    PaymentMethodQueries,
    PaymentQueries,
    RefundQueries,
    WebhookInboxQueries,
)

if TYPE_CHECKING:
    from lms_billing.storage.memory import MemoryUnitOfWork

M = TypeVar("M", bound=BaseModel)

# Collection looks again at waiting (pending) and failing (active) invoices.
_DUE_STATUSES = frozenset({DunningStatus.PENDING.value, DunningStatus.ACTIVE.value})


class _Repo(_MemoryRepository[M]):
    def __init__(self, uow: MemoryUnitOfWork, spec: EntitySpec[M]) -> None:
        super().__init__(uow, spec)
        self._groups = COMPOSITE_UNIQUE.get(spec.table, ())

    def _check_constraints(self, row: _Row, view: Mapping[str, _Row]) -> None:
        super()._check_constraints(row, view)
        entity_id = row.columns["id"]
        for group in self._groups:
            key = tuple(row.columns.get(column) for column in group)
            if any(value is None for value in key):
                continue
            for other_id, other in view.items():
                if other_id != entity_id and tuple(other.columns.get(c) for c in group) == key:
                    raise AlreadyExistsError(
                        f"A {self._spec.label} with the same {', '.join(group)} already exists.",
                        **dict(zip(group, key, strict=True)),
                    )


class MemoryPaymentMethodRepository(_Repo[StoredPaymentMethod], PaymentMethodQueries):
    pass


class MemoryGatewayCustomerRepository(_Repo[GatewayCustomerLink], GatewayCustomerQueries):
    pass


class MemoryPaymentRepository(_Repo[Payment], PaymentQueries):
    def created_since(self, since: datetime, limit: int) -> builtins.list[Payment]:
        check_limit(limit)
        moment = utc(since)
        view = self._view()
        found = sorted(
            (row.columns["created_at"], entity_id)
            for entity_id, row in view.items()
            if row.columns["created_at"] >= moment
        )
        newest = list(reversed(found))[:limit]
        return [self._load(entity_id, view[entity_id]) for _, entity_id in newest]


class MemoryRefundRepository(_Repo[Refund], RefundQueries):
    pass


class MemoryWebhookInboxRepository(_Repo[WebhookInboxEntry], WebhookInboxQueries):
    pass


class MemoryDunningRepository(_Repo[DunningState]):
    def due(self, at: datetime, limit: int) -> builtins.list[DunningState]:
        check_limit(limit)
        moment = utc(at)
        view = self._view()
        due = sorted(
            (row.columns["next_retry_at"], entity_id)
            for entity_id, row in view.items()
            if row.columns["status"] in _DUE_STATUSES
            and row.columns["next_retry_at"] is not None
            and row.columns["next_retry_at"] <= moment
        )[:limit]
        return [self._load(entity_id, view[entity_id]) for _, entity_id in due]


class MemoryPayments:
    """The payment repositories of one memory unit of work."""

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self.payment_methods = MemoryPaymentMethodRepository(uow, PAYMENT_METHODS)
        self.gateway_customers = MemoryGatewayCustomerRepository(uow, GATEWAY_CUSTOMERS)
        self.payments = MemoryPaymentRepository(uow, PAYMENTS)
        self.refunds = MemoryRefundRepository(uow, REFUNDS)
        self.webhook_events = MemoryWebhookInboxRepository(uow, WEBHOOK_EVENTS)
        self.dunning = MemoryDunningRepository(uow, DUNNING_STATES)

    def repositories(self) -> tuple[_MemoryRepository[Any], ...]:
        """Every repository, in commit order (payments before their refunds)."""
        return (
            self.payment_methods,
            self.gateway_customers,
            self.payments,
            self.refunds,
            self.webhook_events,
            self.dunning,
        )


__all__ = [
    "MemoryDunningRepository",
    "MemoryGatewayCustomerRepository",
    "MemoryPaymentMethodRepository",
    "MemoryPaymentRepository",
    "MemoryPayments",
    "MemoryRefundRepository",
    "MemoryWebhookInboxRepository",
]
