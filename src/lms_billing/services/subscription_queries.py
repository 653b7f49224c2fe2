"""Subscription reads: get, list, discounts, pending items, the upcoming-invoice preview
and a cancellation's credit notes (nothing here writes)."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from lms_billing.domain.billing_cycle import parse_enum
from lms_billing.domain.coupons import Discount
from lms_billing.domain.credit_notes import CreditNote
from lms_billing.domain.invoices import Invoice
from lms_billing.domain.proration import ProrationBehavior
from lms_billing.domain.subscription_records import PendingInvoiceItem
from lms_billing.domain.subscriptions import Subscription, SubscriptionStatus
from lms_billing.services._context import ServiceContext
from lms_billing.services._subscription_cancel import cancellation_notes
from lms_billing.services._subscription_preview import preview_invoice
from lms_billing.services._subscription_support import ItemSpec, build_items, item_specs
from lms_billing.storage.base import DEFAULT_LIST_LIMIT

ItemInput = ItemSpec | Mapping[str, Any]


class SubscriptionQueries:
    """The read side of :class:`~lms_billing.services.subscriptions.SubscriptionService`."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def get(self, subscription_id: str) -> Subscription:
        with self._ctx.storage.unit_of_work() as uow:
            return uow.subscriptions.get(subscription_id).subscription

    def discounts(self, subscription_id: str) -> tuple[Discount, ...]:
        """The coupon discounts on a subscription (ended ones included)."""
        with self._ctx.storage.unit_of_work() as uow:
            return uow.subscriptions.get(subscription_id).discounts

    def pending_items(self, subscription_id: str) -> list[PendingInvoiceItem]:
        """Proration lines waiting for the subscription's next invoice."""
        with self._ctx.storage.unit_of_work() as uow:
            uow.subscriptions.get(subscription_id)
            return uow.pending_items.for_subscriptions([subscription_id]).get(subscription_id, [])

    def list(
        self,
        *,
        customer_id: str | None = None,
        status: SubscriptionStatus | str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[Subscription]:
        wanted = None if status is None else parse_enum(SubscriptionStatus, status, name="status")
        with self._ctx.storage.unit_of_work() as uow:
            records = uow.subscriptions.list(
                customer_id=customer_id, status=wanted, limit=limit, starting_after=starting_after
            )
        return [record.subscription for record in records]

    def preview_upcoming_invoice(
        self,
        subscription_id: str,
        *,
        items: Sequence[ItemInput] | None = None,
        proration_date: datetime | None = None,
        proration_behavior: ProrationBehavior | str = ProrationBehavior.CREATE_PRORATIONS,
    ) -> Invoice | None:
        """The next invoice (Stripe's upcoming invoice) as an unsaved draft
        :class:`~lms_billing.domain.invoices.Invoice`: the same lines (named by price
        label), coupons, tax (through the configured tax engines) and customer credit
        (``applied_balance``; ``amount_due`` is what would be charged) as the real one.
        Nothing is written; the id is a placeholder (``upcoming_<subscription id>``) and
        ``created_at`` is when it would be created.

        Pass ``items`` to preview a plan change made now: with ``create_prorations`` its
        prorations join the next renewal invoice, with ``always_invoice`` (or an interval
        change) the preview is the invoice the change would issue at once, with ``none``
        the renewal at the new prices. ``None`` when no invoice is coming.
        """
        specs = None if items is None else item_specs(items)
        behavior = parse_enum(ProrationBehavior, proration_behavior, name="proration_behavior")
        with self._ctx.storage.unit_of_work() as uow:
            record = uow.subscriptions.get(subscription_id)
            sub = record.subscription
            pending = uow.pending_items.for_subscriptions([sub.id]).get(sub.id, [])
            priced = (
                None
                if specs is None
                else build_items(
                    uow,
                    specs,
                    currency=sub.currency,
                    settings=self._ctx.settings,
                    current=sub.items,
                )
            )
            return preview_invoice(
                self._ctx,
                uow,
                sub,
                now=self._ctx.clock.now(),
                pending_items=[p.item for p in pending],
                discounts=record.discounts,
                items=priced,
                proration_date=proration_date,
                proration_behavior=behavior,
            )

    def cancellation_credit_notes(self, subscription_id: str) -> builtins.list[CreditNote]:
        """The credit notes an immediate cancellation with ``prorate`` issued."""
        with self._ctx.storage.unit_of_work() as uow:
            return cancellation_notes(uow, uow.subscriptions.get(subscription_id).subscription)


__all__ = ["ItemInput", "SubscriptionQueries"]
