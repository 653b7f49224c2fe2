"""Unit-of-work wiring shared by the backends.

Each backend builds its repositories in families (invoicing, subscriptions, payments: one
object per family holding that family's repositories); :func:`attach_repositories` exposes
them all as the unit of work's attributes, named as in
:class:`lms_billing.storage.base.UnitOfWork`.
"""

from __future__ import annotations

import inspect

from lms_billing.storage.base_invoicing import (
    CouponRepository,
    CreditNoteRepository,
    CustomerBalanceRepository,
    InvoiceRepository,
    NumberingRepository,
    PromotionCodeRepository,
    ReceiptRepository,
)
from lms_billing.storage.base_payments import (
    DunningRepository,
    GatewayCustomerRepository,
    PaymentMethodRepository,
    PaymentRepository,
    RefundRepository,
    WebhookInboxRepository,
)
from lms_billing.storage.base_subscriptions import (
    BillingRunRepository,
    PendingItemRepository,
    SubscriptionRepository,
)


class RepositorySlots:
    """The family repositories of a unit of work, filled by :func:`attach_repositories`."""

    coupons: CouponRepository
    promotion_codes: PromotionCodeRepository
    invoices: InvoiceRepository
    credit_notes: CreditNoteRepository
    receipts: ReceiptRepository
    numbering: NumberingRepository
    customer_balance: CustomerBalanceRepository
    subscriptions: SubscriptionRepository
    pending_items: PendingItemRepository
    billing_runs: BillingRunRepository
    payment_methods: PaymentMethodRepository
    gateway_customers: GatewayCustomerRepository
    payments: PaymentRepository
    refunds: RefundRepository
    webhook_events: WebhookInboxRepository
    dunning: DunningRepository


SLOT_NAMES: tuple[str, ...] = tuple(inspect.get_annotations(RepositorySlots))


def attach_repositories(uow: RepositorySlots, *families: object) -> None:
    """Set every slot of ``uow`` to the same-named repository of one of ``families``."""
    for family in families:
        for name in SLOT_NAMES:
            if hasattr(family, name):
                setattr(uow, name, getattr(family, name))


__all__ = ["SLOT_NAMES", "RepositorySlots", "attach_repositories"]
