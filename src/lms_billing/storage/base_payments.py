"""Repositories for payments (see :mod:`lms_billing.storage.base`).

Payments, refunds, saved payment methods, gateway customers, the webhook inbox and dunning
state. Unique keys that make the payment flows safe to retry:

* a payment's ``idempotency_key`` (the caller's key: a replay finds the first attempt) and
  ``(gateway, gateway_payment_id)``;
* a refund's ``idempotency_key`` and ``(gateway, gateway_refund_id)``;
* the webhook inbox's ``(gateway, event_id)``: :meth:`WebhookInboxRepository.add` raises
  :class:`~lms_billing.errors.AlreadyExistsError` for an event already received, which is
  how duplicates are recognised even when two deliveries race;
* a gateway customer's ``(customer_id, gateway)``.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Protocol

from lms_billing.domain.payment_records import (
    DunningState,
    GatewayCustomerLink,
    Payment,
    Refund,
    StoredPaymentMethod,
    WebhookInboxEntry,
)
from lms_billing.domain.payments import PaymentStatus
from lms_billing.storage.base import DEFAULT_LIST_LIMIT, Repository


class PaymentMethodRepository(Repository[StoredPaymentMethod], Protocol):
    def get_by_token(self, gateway: str, token: str) -> StoredPaymentMethod | None: ...

    def list(
        self,
        *,
        customer_id: str | None = None,
        active: bool | None = True,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[StoredPaymentMethod]: ...


class GatewayCustomerRepository(Repository[GatewayCustomerLink], Protocol):
    def get_for(self, customer_id: str, gateway: str) -> GatewayCustomerLink | None: ...


class PaymentRepository(Repository[Payment], Protocol):
    def get_by_idempotency_key(self, key: str) -> Payment | None: ...

    def get_by_gateway_id(self, gateway: str, gateway_payment_id: str) -> Payment | None: ...

    def list(
        self,
        *,
        invoice_id: str | None = None,
        customer_id: str | None = None,
        status: PaymentStatus | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[Payment]: ...

    def created_since(self, since: datetime, limit: int) -> builtins.list[Payment]:
        """Attempts created at or after ``since``, newest first (fraud velocity rules)."""
        ...


class RefundRepository(Repository[Refund], Protocol):
    def get_by_idempotency_key(self, key: str) -> Refund | None: ...

    def get_by_gateway_id(self, gateway: str, gateway_refund_id: str) -> Refund | None: ...

    def list(
        self,
        *,
        payment_id: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[Refund]: ...


class WebhookInboxRepository(Repository[WebhookInboxEntry], Protocol):
    def get_by_event(self, gateway: str, event_id: str) -> WebhookInboxEntry | None: ...


class DunningRepository(Repository[DunningState], Protocol):
    def due(self, at: datetime, limit: int) -> builtins.list[DunningState]:
        """Pending and active states with ``next_retry_at <= at``, earliest first."""
        ...


__all__ = [
    "DunningRepository",
    "GatewayCustomerRepository",
    "PaymentMethodRepository",
    "PaymentRepository",
    "RefundRepository",
    "WebhookInboxRepository",
]
