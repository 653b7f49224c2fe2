"""Helpers for :mod:`lms_billing.services.invoicing`: tax engines, lines from prices,
document numbers, the balance ledger, credit notes and rendering. Private: the service is
the public surface."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from lms_billing.domain.catalog import Price, PriceType, Product, TaxBehavior
from lms_billing.domain.coupons import (
    Coupon,
    CustomerRedemptionStats,
    OrderSummary,
    PromotionCode,
    check_redeemable,
)
from lms_billing.domain.credit_notes import CreditNote, CreditNoteRequest, credit_invoice
from lms_billing.domain.customer_balance import BalanceTransactionType, CustomerBalanceTransaction
from lms_billing.domain.customers import Customer
from lms_billing.domain.invoices import (
    Invoice,
    InvoiceLine,
    InvoiceLineKind,
    Period,
    TaxContext,
    apply_coupons,
    compute_tax,
    order_summary,
    require_draft,
)
from lms_billing.domain.numbering import NumberingSeries, format_number, period_key
from lms_billing.domain.pricing import Quote
from lms_billing.domain.receipts import Receipt
from lms_billing.domain.redemptions import CouponRedemption
from lms_billing.domain.tax import LocationEvidence, TaxCustomer
from lms_billing.errors import (
    ConfigurationError,
    CouponAlreadyAppliedError,
    ValidationError,
)
from lms_billing.ids import new_id
from lms_billing.ports import TaxEngine
from lms_billing.rendering.context import SellerDetails
from lms_billing.services._context import PendingEvents
from lms_billing.settings import BillingSettings
from lms_billing.storage.base import UnitOfWork
from lms_billing.tax.chain import chain_by_name

RenderFormat = Literal["html", "pdf"]


class InvoicePayment(BaseModel):
    """What :meth:`InvoiceService.pay` returns: the invoice after the payment and its receipt."""

    model_config = ConfigDict(frozen=True)

    invoice: Invoice
    receipt: Receipt


def tax_engine(plugins_engines: dict[str, TaxEngine], settings: BillingSettings) -> TaxEngine:
    """The configured chain. Built-in engines are the fallback for names no plugin registers,
    so ``("zero",)`` works even where the built-in tax plugin is not loaded."""
    from lms_billing.tax.plugin import builtin_tax_engines

    available: dict[str, TaxEngine] = {e.name: e for e in builtin_tax_engines()}
    available.update(plugins_engines)
    return chain_by_name(available, settings.tax_engines)


def apply_tax(
    invoice: Invoice,
    customer: Customer,
    engine: TaxEngine,
    settings: BillingSettings,
    now: datetime,
    evidence: LocationEvidence | None,
    *,
    snapshot: bool = False,
) -> Invoice:
    """The draft with tax computed through ``engine`` for this seller and customer; with
    ``snapshot`` the buyer is copied onto it too (:func:`snapshot_customer`), in one step
    where no tax is computed."""
    seller = settings.seller
    profile = None if seller is None else seller.tax_profile
    if profile is None or customer.address is None:
        if settings.tax_engines == ("zero",):
            # Zero tax needs no jurisdiction: record that tax was computed (no tax lines), as
            # compute_tax with the zero engine would, without inventing a seller or address.
            untaxed: dict[str, object] = {"tax_computed": True, "tax_engine": "zero"}
            if snapshot:
                untaxed.update(customer_snapshot(customer))
            return invoice.model_copy(update=untaxed)
        if profile is None:
            raise ConfigurationError(
                f"Set settings.seller.tax_profile to compute tax with {list(settings.tax_engines)}."
            )
    customer_for_tax = TaxCustomer.from_profile(customer)  # UnknownJurisdictionError: no address
    if snapshot:
        invoice = snapshot_customer(invoice, customer)
    context = TaxContext(
        seller=profile,
        customer=customer_for_tax,
        transaction_date=now.astimezone(ZoneInfo(settings.timezone)).date(),
        evidence=evidence,
    )
    return compute_tax(invoice, engine, context)


def redeem_for_customer(
    uow: UnitOfWork,
    coupon_id: str,
    code: PromotionCode | None,
    customer_id: str,
    order: OrderSummary,
    now: datetime,
    *,
    invoice_id: str | None = None,
) -> tuple[Coupon, CouponRedemption]:
    """Check every redemption rule for ``customer_id`` and count one use, atomically, inside
    the caller's transaction; returns the coupon (as read, before counting) and the recorded
    redemption.

    The customer's redemptions are serialised first (:meth:`CouponRepository.lock_customer`),
    so the per-customer limit and the first-purchase rule see every redemption committed
    before: of two concurrent redemptions of a once-per-customer coupon, one waits for the
    other and then fails. The global limits are counted by conditional updates. A
    first-purchase-only coupon counts as the customer's first purchase: it fails once the
    customer has paid anything, or used a first-purchase-only coupon on another invoice or
    subscription (several on the same invoice are one purchase).
    """
    uow.coupons.lock_customer(customer_id)
    coupon = uow.coupons.get(coupon_id)
    history = uow.coupons.customer_redemptions(customer_id)
    elsewhere = [r for r in history if invoice_id is None or r.invoice_id != invoice_id]
    stats = CustomerRedemptionStats(
        customer_id=customer_id,
        coupon_redemptions=sum(1 for r in history if r.coupon_id == coupon.id),
        has_prior_transactions=any(r.first_time_transaction for r in elsewhere)
        or uow.invoices.customer_has_payments(customer_id),
    )
    check_redeemable(coupon, code, stats, order, now)
    # Counted atomically in the database; the loser of a race for the last redemption
    # gets CouponExhaustedError here and its whole transaction rolls back.
    uow.coupons.redeem(coupon.id)
    if code is not None:
        uow.promotion_codes.redeem(code.id)
    first_only = coupon.first_time_transaction or (
        code is not None and code.restrictions.first_time_transaction
    )
    redemption = CouponRedemption(
        id=new_id("redm"),
        coupon_id=coupon.id,
        promotion_code_id=None if code is None else code.id,
        customer_id=customer_id,
        invoice_id=invoice_id,
        first_time_transaction=first_only,
        created_at=now,
    )
    uow.coupons.record_redemption(redemption)
    return coupon, redemption


def redeem_coupon(
    uow: UnitOfWork,
    invoice: Invoice,
    coupon_id: str,
    code: PromotionCode | None,
    now: datetime,
) -> Invoice:
    """Check the redemption rules, discount the draft and count the redemption (atomic in
    the database), all inside the caller's transaction.

    :raises CouponAlreadyAppliedError: the coupon is already on the draft.
    :raises InvoiceNotEditableError: the invoice is not a draft.
    """
    require_draft(invoice)
    if any(applied.id == coupon_id for applied in invoice.coupons):
        raise CouponAlreadyAppliedError(
            f"Coupon {coupon_id} is already applied to invoice {invoice.id}.",
            coupon=coupon_id,
            invoice=invoice.id,
        )
    coupon, _ = redeem_for_customer(
        uow,
        coupon_id,
        code,
        invoice.customer_id,
        order_summary(invoice),
        now,
        invoice_id=invoice.id,
    )
    return apply_coupons(invoice, (*invoice.coupons, coupon))


def balance_transaction(
    invoice: Invoice,
    amount: int,
    kind: str,
    now: datetime,
    credit_note_id: str | None = None,
    *,
    description: str | None = None,
) -> CustomerBalanceTransaction:
    """A signed transaction on the invoice customer's credit ledger, in its currency."""
    return CustomerBalanceTransaction(
        id=new_id("cbtxn"),
        customer_id=invoice.customer_id,
        currency=invoice.currency,
        amount=amount,
        type=BalanceTransactionType(kind),
        invoice_id=invoice.id,
        credit_note_id=credit_note_id,
        description=description,
        created_at=now,
    )


def record_balance(
    uow: UnitOfWork,
    invoice: Invoice,
    amount: int,
    kind: str,
    now: datetime,
    credit_note_id: str | None = None,
    *,
    description: str | None = None,
) -> None:
    """Add a signed transaction to the invoice customer's credit ledger."""
    uow.customer_balance.add(
        balance_transaction(invoice, amount, kind, now, credit_note_id, description=description)
    )


def store_credit_note(
    uow: UnitOfWork,
    settings: BillingSettings,
    invoice: Invoice,
    request: CreditNoteRequest,
    *,
    credit_note_id: str,
    previous: Sequence[CreditNote],
    now: datetime,
    events: PendingEvents,
) -> CreditNote:
    """Number and store the credit note ``request`` makes on ``invoice``: the invoice
    updated, the note's credit on the customer's balance, ``credit_note.created`` and
    ``invoice.paid`` (the note settled it) or ``invoice.updated`` recorded.

    The number is drawn first: callers dry-run the request before, so bad requests fail
    without locking the counter row.
    """
    number = next_number(uow, settings.credit_note_numbering, now)
    note, updated = credit_invoice(
        invoice, request, credit_note_id=credit_note_id, number=number, now=now, previous=previous
    )
    uow.credit_notes.add(note)
    uow.invoices.update(updated)
    if note.credit_amount:
        record_balance(uow, updated, note.credit_amount, "credit_note", now, note.id)
    events.record("credit_note.created", note, customer_id=note.customer_id)
    paid_now = updated.status is not invoice.status
    events.record(
        "invoice.paid" if paid_now else "invoice.updated",
        updated,
        customer_id=updated.customer_id,
    )
    return note


def next_number(uow: UnitOfWork, series: NumberingSeries, now: datetime) -> str:
    """Draw the next number of ``series`` in this transaction and format it."""
    sequence = uow.numbering.next(series.id, period_key(series, now), start=series.start)
    return format_number(series, sequence, now)


def price_line(
    price: Price,
    product: Product,
    quote: Quote,
    *,
    period: Period | None,
    description: str | None,
    default_tax_behavior: str,
) -> InvoiceLine:
    """An invoice line for a priced quantity (the quote is in the invoice's currency)."""
    if not price.active or not product.active:
        raise ValidationError(f"Price {price.id} or its product is archived.", price_id=price.id)
    only = quote.lines[0] if len(quote.lines) == 1 else None
    unit = None
    if (
        only is not None
        and only.unit_amount is not None
        and only.flat_amount in (None, 0)
        and only.unit_amount * quote.quantity == quote.subtotal
    ):
        unit = only.unit_amount
    behavior = (
        default_tax_behavior
        if price.tax_behavior is TaxBehavior.UNSPECIFIED
        else price.tax_behavior.value
    )
    metadata: dict[str, str] = {}
    if quote.fx_rate is not None:
        metadata = {
            "fx_rate": str(quote.fx_rate.rate),
            "fx_source": quote.fx_rate.source,
            "fx_base_currency": quote.fx_rate.base,
        }
    name = description or (f"{product.name} ({price.nickname})" if price.nickname else product.name)
    recurring = price.type is PriceType.RECURRING
    return InvoiceLine(
        id=new_id("il"),
        description=name,
        kind=InvoiceLineKind.SUBSCRIPTION if recurring else InvoiceLineKind.ONE_TIME,
        quantity=quote.quantity,
        unit_amount=unit,
        amount=quote.subtotal,
        period=period,
        price_id=price.id,
        product_id=product.id,
        tax_code=product.tax_code,
        tax_behavior=behavior,
        metadata=metadata,
    )


def customer_snapshot(customer: Customer) -> dict[str, object]:
    """The invoice fields :func:`snapshot_customer` sets."""
    return {
        "customer_name": customer.name or customer.email or customer.external_id,
        "customer_email": customer.email,
        "customer_address": customer.address,
        "customer_tax_ids": customer.tax_ids,
    }


def snapshot_customer(invoice: Invoice, customer: Customer) -> Invoice:
    """The buyer as printed: copied onto the invoice so later profile edits leave it as sent."""
    return invoice.model_copy(update=customer_snapshot(customer))


def seller_for_rendering(settings: BillingSettings) -> SellerDetails:
    if settings.seller is None:
        raise ConfigurationError("Set settings.seller to render documents.")
    return settings.seller.for_rendering()


__all__ = [
    "InvoicePayment",
    "RenderFormat",
    "apply_tax",
    "balance_transaction",
    "customer_snapshot",
    "next_number",
    "price_line",
    "record_balance",
    "redeem_coupon",
    "redeem_for_customer",
    "seller_for_rendering",
    "snapshot_customer",
    "store_credit_note",
    "tax_engine",
]
