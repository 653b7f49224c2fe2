"""Helpers shared by the subscription service and the billing run: items from catalog
prices, invoices from renewal plans, and finalizing + collecting them. Private."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lms_billing.domain.catalog import PriceType, TaxBehavior
from lms_billing.domain.coupons import (
    Discount,
    OrderLine,
    OrderSummary,
    start_discount,
)
from lms_billing.domain.customer_balance import CustomerBalanceTransaction
from lms_billing.domain.customers import Customer
from lms_billing.domain.invoices import (
    Invoice,
    InvoiceLineKind,
    InvoiceStatus,
    apply_coupons,
    finalize,
    mark_uncollectible,
    void,
)
from lms_billing.domain.pricing import price_quote
from lms_billing.domain.proration import ProrationItem
from lms_billing.domain.receipts import Receipt, receipt_for_invoice_payment
from lms_billing.domain.renewal import InvoiceCollection, InvoicePlan
from lms_billing.domain.subscriptions import (
    Subscription,
    SubscriptionItem,
    SubscriptionStatus,
    activate,
    transition,
)
from lms_billing.errors import InvalidSubscriptionError, NotFoundError
from lms_billing.ids import new_id
from lms_billing.ports import TaxEngine
from lms_billing.services._invoicing_support import (
    apply_tax,
    balance_transaction,
    next_number,
    redeem_for_customer,
    snapshot_customer,
)
from lms_billing.services.collection import CollectionOutcome, Collector
from lms_billing.settings import BillingSettings
from lms_billing.storage.base import UnitOfWork

# SubscriptionItem metadata keys the services set (kept on the stored item).
TIERED_QUANTITY = "tiered_quantity"  # seats of a tiered price billed as one priced amount
TAX_BEHAVIOR = "tax_behavior"
TAX_CODE = "tax_code"
LABEL = "label"  # what invoice lines call the price (product name and price nickname)


class ItemSpec(BaseModel):
    """One requested subscription item: a recurring price and a quantity (seats).

    ``id`` names an existing subscription item to change (an upgrade keeps the item);
    without it, an item with the same price is kept, otherwise a new item is added.
    """

    model_config = ConfigDict(frozen=True)

    price_id: str = Field(min_length=1)
    quantity: int = Field(default=1, ge=0)
    id: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)


def item_specs(items: Sequence[ItemSpec | Mapping[str, Any]]) -> tuple[ItemSpec, ...]:
    specs = tuple(i if isinstance(i, ItemSpec) else ItemSpec.model_validate(dict(i)) for i in items)
    if not specs:
        raise InvalidSubscriptionError("A subscription needs at least one item.")
    return specs


def build_items(
    uow: UnitOfWork,
    specs: Sequence[ItemSpec],
    *,
    currency: str | None,
    settings: BillingSettings,
    current: Sequence[SubscriptionItem] = (),
) -> tuple[SubscriptionItem, ...]:
    """Subscription items priced from the catalog (tiered prices through ``price_quote``)."""
    by_id = {item.id: item for item in current}
    by_price = {item.price_id: item for item in current}
    single = current[0] if len(current) == 1 and len(specs) == 1 else None
    items: list[SubscriptionItem] = []
    for spec in specs:
        price = uow.prices.get(spec.price_id)
        if price.type is not PriceType.RECURRING or price.recurring is None:
            raise InvalidSubscriptionError(f"Price {price.id} is not recurring.", price_id=price.id)
        if not price.active:
            raise InvalidSubscriptionError(f"Price {price.id} is archived.", price_id=price.id)
        product = uow.products.get(price.product_id)
        quote = price_quote(
            price, spec.quantity, currency or price.currency, rounding=settings.rounding
        )
        only = quote.lines[0] if len(quote.lines) == 1 else None
        metadata = dict(spec.metadata)
        behavior = (
            settings.default_tax_behavior
            if price.tax_behavior is TaxBehavior.UNSPECIFIED
            else price.tax_behavior.value
        )
        metadata[TAX_BEHAVIOR] = behavior
        metadata[LABEL] = f"{product.name} ({price.nickname})" if price.nickname else product.name
        if product.tax_code:
            metadata[TAX_CODE] = product.tax_code
        if spec.quantity == 0:
            quantity, unit = 0, price.unit_amount or 0
        elif (
            only is not None
            and only.unit_amount is not None
            and not only.flat_amount
            and only.unit_amount * spec.quantity == quote.subtotal
        ):
            quantity, unit = spec.quantity, only.unit_amount
        else:
            # Tiered, package or flat-fee prices: bill the quoted amount as one unit and keep
            # the seat count for invoices (re-quoted whenever the quantity changes).
            quantity, unit = 1, quote.subtotal
            metadata[TIERED_QUANTITY] = str(spec.quantity)
        existing = by_id.get(spec.id or "") or by_price.get(price.id) or single
        item_id = existing.id if existing is not None else new_id("si")
        items.append(
            SubscriptionItem(
                id=item_id,
                price_id=price.id,
                product_id=product.id,
                quantity=quantity,
                unit_amount=unit,
                currency=quote.currency,
                interval=price.recurring.interval,
                interval_count=price.recurring.interval_count,
                metadata=metadata,
            )
        )
        by_id.pop(item_id, None)
        if existing is single:
            single = None
    return tuple(items)


def _described(text: str, price_id: str, item: SubscriptionItem | None) -> str:
    """``text`` naming the price by its label (when ``item`` still has that price)."""
    if item is None or item.price_id != price_id or LABEL not in item.metadata:
        return text
    return text.replace(price_id, item.metadata[LABEL])


def label_prorations(
    items: Sequence[ProrationItem], *known: Sequence[SubscriptionItem]
) -> tuple[ProrationItem, ...]:
    """Proration lines whose descriptions name prices by label (old and new items)."""
    labels = {
        i.price_id: i.metadata[LABEL] for group in known for i in group if LABEL in i.metadata
    }
    return tuple(
        p.model_copy(update={"description": p.description.replace(p.price_id, labels[p.price_id])})
        if p.price_id in labels
        else p
        for p in items
    )


def invoice_from_plan(
    plan: InvoicePlan,
    sub: Subscription,
    discounts: Sequence[Discount],
    *,
    created_at: datetime,
    settings: BillingSettings,
) -> Invoice:
    """The draft invoice for a renewal plan: one line per planned line, coupons applied."""
    items = {item.id: item for item in sub.items}
    # The lines go in as plain values: validated once, as part of the invoice (an InvoiceLine
    # instance would have its checks run a second time there).
    lines: list[dict[str, object]] = []
    for planned in plan.lines:
        item = items.get(planned.subscription_item_id or "")
        meta = {} if item is None else item.metadata
        quantity, unit = planned.quantity, planned.unit_amount
        if TIERED_QUANTITY in meta:
            quantity, unit = int(meta[TIERED_QUANTITY]), None
        if unit is not None and unit * quantity != planned.amount:
            unit = None  # a prorated stub or proration line: the amount is not unit x qty
        lines.append(
            {
                "id": new_id("il"),
                "description": _described(planned.description, planned.price_id, item),
                "kind": InvoiceLineKind.SUBSCRIPTION,
                "quantity": quantity,
                "unit_amount": unit,
                "amount": planned.amount,
                "period": {"start": planned.period_start, "end": planned.period_end},
                "proration": planned.proration,
                "price_id": planned.price_id,
                "product_id": planned.product_id,
                "tax_code": meta.get(TAX_CODE),
                "tax_behavior": meta.get(TAX_BEHAVIOR, settings.default_tax_behavior),
            }
        )
    invoice = Invoice.model_validate(
        {
            "id": new_id("in"),
            "customer_id": sub.customer_id,
            "currency": sub.currency,
            "lines": lines,
            "discount_order": settings.discount_order,
            "rounding": settings.rounding,
            "subscription_id": sub.id,
            "billing_reason": plan.billing_reason.value,
            "created_at": created_at,
        }
    )
    coupons = [d.coupon for d in discounts if d.active_at(plan.period.start)]
    return apply_coupons(invoice, coupons) if coupons else invoice


class InvoiceFinisher:
    """Finalizes drafts (tax, number, customer credit) and collects them, in one unit of work.

    Customer credit applied by earlier invoices of the same unit of work is remembered, so a
    batch never spends the same credit twice; a billing run passes the ``balances`` it locked
    for the whole batch up front. Balance transactions and the receipts of payments a
    collector took are kept for the caller to add once the invoice rows exist
    (:attr:`balance_transactions`, :meth:`add_receipts`).
    """

    def __init__(
        self,
        uow: UnitOfWork,
        settings: BillingSettings,
        engine: TaxEngine,
        collector: Collector,
        balances: Mapping[tuple[str, str], int] | None = None,
    ) -> None:
        self._uow = uow
        self._balances = dict(balances or {})
        self._settings = settings
        self._engine = engine
        self._collector = collector
        self._spent: dict[tuple[str, str], int] = {}
        self.balance_transactions: list[CustomerBalanceTransaction] = []
        self._receipts: list[Receipt] = []

    def _credit(self, customer_id: str, currency: str) -> int:
        key = (customer_id, currency)
        available = self._balances.get(key)
        if available is None:
            available = self._uow.customer_balance.balance(customer_id, currency, lock=True)
            self._balances[key] = available
        return max(0, available - self._spent.get(key, 0))

    def prepare(
        self, draft: Invoice, customer: Customer, collection: InvoiceCollection, now: datetime
    ) -> Invoice:
        """The draft with the buyer snapshot and tax (paused ``keep_as_draft``: no tax)."""
        if collection is InvoiceCollection.KEEP_AS_DRAFT:
            return snapshot_customer(draft, customer)
        return apply_tax(draft, customer, self._engine, self._settings, now, None, snapshot=True)

    def complete(
        self,
        invoice: Invoice,
        number: str,
        sub: Subscription,
        collection: InvoiceCollection,
        now: datetime,
    ) -> tuple[Invoice, CollectionOutcome]:
        """Finalize a prepared draft with ``number`` (customer credit applied), then void,
        write off or collect it as ``collection`` says."""
        customer_id = invoice.customer_id
        credit = self._credit(customer_id, invoice.currency) if invoice.total > 0 else 0
        invoice = finalize(
            invoice,
            number,
            now,
            customer_balance=credit,
            allow_tax_review=self._settings.allow_tax_review,
        )
        if invoice.applied_balance:
            key = (customer_id, invoice.currency)
            self._spent[key] = self._spent.get(key, 0) + invoice.applied_balance
            self.balance_transactions.append(
                balance_transaction(invoice, -invoice.applied_balance, "applied_to_invoice", now)
            )
        if invoice.credited_to_balance:
            # A negative total (credits beyond the charges) is owed to the customer: it goes
            # to the balance, where later invoices (of this batch too) use it.
            key = (customer_id, invoice.currency)
            self._spent[key] = self._spent.get(key, 0) - invoice.credited_to_balance
            self.balance_transactions.append(
                balance_transaction(invoice, invoice.credited_to_balance, "invoice_credit", now)
            )
        if invoice.status is InvoiceStatus.PAID:
            return invoice, CollectionOutcome.PAID
        if collection is InvoiceCollection.VOID:
            return void(invoice, now), CollectionOutcome.PENDING
        if collection is InvoiceCollection.MARK_UNCOLLECTIBLE:
            return mark_uncollectible(invoice, now), CollectionOutcome.PENDING
        result = self._collector.collect(invoice, sub, now)
        taken = result.invoice.amount_paid - invoice.amount_paid
        if taken > 0:  # receipts for every successful payment, collector-taken ones too
            self._receipts.append(
                receipt_for_invoice_payment(
                    result.invoice,
                    receipt_id=new_id("rcpt"),
                    number=next_number(self._uow, self._settings.receipt_numbering, now),
                    payment_id=result.payment_reference or f"collected_{invoice.id}",
                    amount=taken,
                    paid_at=now,
                    payment_method=result.payment_method,
                )
            )
        return result.invoice, result.outcome

    def add_receipts(self) -> list[Receipt]:
        """Write the receipts for payments collected so far (call it once their invoices'
        rows exist, like :attr:`balance_transactions`); returns them, for events."""
        written, self._receipts = self._receipts, []
        for receipt in written:
            self._uow.receipts.add(receipt)
        return written

    def finish(
        self,
        draft: Invoice,
        sub: Subscription,
        customer: Customer,
        collection: InvoiceCollection,
        now: datetime,
    ) -> tuple[Invoice, CollectionOutcome]:
        """Prepare, number, finalize and collect one draft (drafts stay drafts when
        collection is paused with ``keep_as_draft``)."""
        invoice = self.prepare(draft, customer, collection, now)
        if collection is InvoiceCollection.KEEP_AS_DRAFT:
            return invoice, CollectionOutcome.PENDING
        number = next_number(self._uow, self._settings.invoice_numbering, now)
        return self.complete(invoice, number, sub, collection, now)


def subscription_discounts(
    uow: UnitOfWork,
    sub: Subscription,
    coupon_id: str | None,
    code_text: str | None,
    now: datetime,
) -> tuple[Discount, ...]:
    """Redeem a coupon (by id) or promotion code (normalized text) for a new subscription:
    the redemption rules are checked, the use counted atomically and recorded, and the
    subscription's :class:`Discount` returned (``()`` when neither is given)."""
    if coupon_id is None and code_text is None:
        return ()
    code = None
    if code_text is not None:
        code = uow.promotion_codes.get_by_code(code_text)
        if code is None:
            raise NotFoundError(f"No promotion code {code_text}.", code=code_text)
    lines = tuple(
        OrderLine(amount=i.amount, product_id=i.product_id, price_id=i.price_id) for i in sub.items
    )
    order = OrderSummary(
        currency=sub.currency, subtotal=sum(i.amount for i in sub.items), lines=lines
    )
    # Same rules and locking as an invoice redemption (per-customer limit, first purchase).
    coupon, _ = redeem_for_customer(
        uow,
        coupon_id if coupon_id is not None else code.coupon_id,  # type: ignore[union-attr]
        code,
        sub.customer_id,
        order,
        now,
    )
    discount = start_discount(
        new_id("di"),
        coupon,
        now,
        promotion_code=code,
        customer_id=sub.customer_id,
        subscription_id=sub.id,
    )
    return (discount,)


def after_collection(
    sub: Subscription, outcome: CollectionOutcome, at: datetime, *, actor: str
) -> Subscription:
    """The subscription status a payment outcome leads to (Stripe's rules)."""
    status = sub.status
    if outcome is CollectionOutcome.PAID:
        if status is SubscriptionStatus.INCOMPLETE:
            return activate(sub, at=at, actor=actor)
        if status in (SubscriptionStatus.PAST_DUE, SubscriptionStatus.UNPAID):
            return transition(
                sub, SubscriptionStatus.ACTIVE, cause="invoice_paid", actor=actor, at=at
            )
    if outcome is CollectionOutcome.FAILED and status in (
        SubscriptionStatus.ACTIVE,
        SubscriptionStatus.TRIALING,
    ):
        return transition(
            sub, SubscriptionStatus.PAST_DUE, cause="payment_failed", actor=actor, at=at
        )
    return sub


__all__ = [
    "LABEL",
    "TAX_BEHAVIOR",
    "TAX_CODE",
    "TIERED_QUANTITY",
    "InvoiceFinisher",
    "ItemSpec",
    "after_collection",
    "build_items",
    "invoice_from_plan",
    "item_specs",
    "label_prorations",
    "subscription_discounts",
]
