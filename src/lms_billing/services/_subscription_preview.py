"""The upcoming-invoice preview: the invoice a subscription will get next, exactly as the
billing run (or an ``always_invoice`` change) would build it, with nothing written. Private.

Same planning as a real invoice (items, pending prorations, coupons), then the same
finishing steps short of numbering: invoice lines named by their price labels, the buyer
snapshot, tax through the configured tax engines (which may call out, e.g. Stripe Tax, but
nothing is stored) and the customer credit the invoice would use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from lms_billing.domain.coupons import Discount
from lms_billing.domain.invoices import Invoice
from lms_billing.domain.proration import ProrationBehavior, ProrationItem
from lms_billing.domain.renewal import InvoiceCollection, preview_upcoming_invoice
from lms_billing.domain.subscriptions import Subscription, SubscriptionItem, evolve
from lms_billing.services._context import ServiceContext
from lms_billing.services._invoicing_support import apply_tax, snapshot_customer, tax_engine
from lms_billing.services._subscription_support import LABEL, invoice_from_plan
from lms_billing.storage.base import UnitOfWork

UPCOMING_ID_PREFIX = "upcoming_"  # previews are never stored; their id only names them


def _labels(*groups: Sequence[SubscriptionItem]) -> dict[str, str]:
    return {i.price_id: i.metadata[LABEL] for group in groups for i in group if LABEL in i.metadata}


def _relabel(invoice: Invoice, labels: Mapping[str, str]) -> Invoice:
    """Lines that still name a raw price id (an old price's proration credit) get its label."""
    lines = []
    for line in invoice.lines:
        price = line.price_id
        if price is not None and price in labels and price in line.description:
            line = line.model_copy(
                update={"description": line.description.replace(price, labels[price])}
            )
        lines.append(line)
    return invoice.model_copy(update={"lines": tuple(lines)})


def preview_invoice(
    ctx: ServiceContext,
    uow: UnitOfWork,
    sub: Subscription,
    *,
    now: datetime,
    pending_items: Sequence[ProrationItem],
    discounts: Sequence[Discount],
    items: Sequence[SubscriptionItem] | None,
    proration_date: datetime | None,
    proration_behavior: ProrationBehavior,
) -> Invoice | None:
    """The upcoming invoice as a draft :class:`Invoice` (reads only).

    ``created_at`` is when it would be created (the renewal instant, or now for an
    immediate invoice); ``applied_balance`` is the customer credit it would use (none for a
    draft kept by a ``keep_as_draft`` pause, which is finalized later).
    """
    settings = ctx.settings
    plan = preview_upcoming_invoice(
        sub,
        now,
        pending_items=pending_items,
        discounts=discounts,
        items=items,
        proration_date=proration_date,
        proration_behavior=proration_behavior,
        rounding=settings.rounding,
    )
    if plan is None:
        return None
    after = sub if items is None else evolve(sub, items=tuple(items))
    created_at = max(now, plan.period.start)
    draft = invoice_from_plan(plan, after, discounts, created_at=created_at, settings=settings)
    draft = _relabel(
        draft.model_copy(update={"id": f"{UPCOMING_ID_PREFIX}{sub.id}"}),
        _labels(sub.items, after.items),
    )
    customer = uow.customers.get(sub.customer_id)
    engine = tax_engine(ctx.plugins.tax_engines(), settings)
    invoice = apply_tax(
        snapshot_customer(draft, customer), customer, engine, settings, created_at, None
    )
    if plan.collection is InvoiceCollection.KEEP_AS_DRAFT or invoice.total <= 0:
        return invoice
    credit = uow.customer_balance.balance(sub.customer_id, sub.currency)
    if credit <= 0:
        return invoice
    return invoice.model_copy(update={"applied_balance": min(credit, invoice.total)})


__all__ = ["UPCOMING_ID_PREFIX", "preview_invoice"]
