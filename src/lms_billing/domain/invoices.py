"""Invoices: lines, totals and the draft -> open -> paid | void | uncollectible lifecycle.

Every function is pure: it takes an :class:`Invoice` and returns a new frozen one, or raises
a specific error and changes nothing. The rules follow Stripe's invoice lifecycle:

* ``draft`` is the only editable state (lines, coupons, tax); a draft may be deleted.
* :func:`finalize` assigns the number and turns ``draft`` into ``open`` (or straight into
  ``paid`` when nothing is due, as Stripe does for zero-amount invoices).
* ``open`` -> ``paid`` | ``void`` | ``uncollectible``; ``uncollectible`` -> ``paid`` | ``void``.
  ``paid`` and ``void`` are final. Corrections to finalized invoices are credit notes.

The models live in :mod:`lms_billing.domain.invoice_models` and are re-exported here.
Totals (all integer minor units, computed from the lines so they cannot drift)::

    subtotal             sum of line amounts (inclusive-priced lines count gross)
    total_discount       sum of line discounts (negative parts on credit lines)
    total_excluding_tax  subtotal - total_discount - inclusive tax
    tax                  all tax, exclusive and inclusive
    total                subtotal - total_discount + exclusive tax (inclusive tax is inside)
    amount_due           total - applied customer balance - pre-payment credit notes, >= 0
    amount_remaining     amount_due - amount_paid

A negative total is credited to the customer's balance at finalization
(``credited_to_balance``), as Stripe does.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from lms_billing.clock import ensure_aware
from lms_billing.domain.coupons import (
    Coupon,
    OrderLine,
    OrderSummary,
    PromotionCode,
    check_order_conditions,
)
from lms_billing.domain.discounts import DiscountableLine, DiscountOrder, apply_discounts
from lms_billing.domain.invoice_models import (
    TRANSITIONS,
    Invoice,
    InvoiceLine,
    InvoiceLineKind,
    InvoiceStatus,
    LineDiscountAmount,
    LineTaxAmount,
    Period,
    RemovedCoupon,
    TaxBreakdownRow,
    can_transition,
)
from lms_billing.domain.tax import (
    LocationEvidence,
    SellerTaxProfile,
    TaxCustomer,
    TaxLineItem,
    TaxRequest,
)
from lms_billing.errors import (
    CouponCurrencyMismatchError,
    CouponNotApplicableError,
    CurrencyMismatchError,
    InvalidAmountError,
    InvalidStateTransitionError,
    InvoiceHasPaymentsError,
    InvoiceNotEditableError,
    OverpaymentError,
    PluginError,
    ValidationError,
)
from lms_billing.money import validate_minor_units
from lms_billing.ports import TaxEngine

# --- editing drafts ----------------------------------------------------------------------


def require_draft(invoice: Invoice) -> None:
    """Refuse to edit ``invoice`` unless it is a draft."""
    if invoice.status is not InvoiceStatus.DRAFT:
        raise InvoiceNotEditableError(
            f"Invoice {invoice.id} is {invoice.status.value}; only drafts can be edited.",
            invoice=invoice.id,
            status=invoice.status.value,
        )


def _rebuild(invoice: Invoice, lines: Sequence[InvoiceLine], coupons: Sequence[Coupon]) -> Invoice:
    """Re-run discount allocation; any tax computed before is stale and is cleared."""
    result = apply_discounts(
        [
            DiscountableLine(
                line_id=line.id,
                amount=line.amount,
                product_id=line.product_id,
                price_id=line.price_id,
                discountable=line.discountable,
            )
            for line in lines
        ],
        coupons,
        invoice.currency,
        order=invoice.discount_order,
        rounding=invoice.rounding,
    )
    rebuilt = tuple(
        line.model_copy(
            update={
                "discount_amounts": tuple(
                    LineDiscountAmount(coupon_id=a.coupon_id, amount=a.amount)
                    for a in result.for_line(line.id)
                ),
                "tax_amounts": (),
            }
        )
        for line in lines
    )
    return invoice.model_copy(
        update={
            "lines": rebuilt,
            "coupons": tuple(coupons),
            "tax_computed": False,
            "tax_engine": None,
            "tax_notes": (),
            "tax_needs_review": False,
            "tax_review_reasons": (),
            "tax_vat_id_checks": (),
        }
    )


def add_line(invoice: Invoice, line: InvoiceLine, *, currency: str | None = None) -> Invoice:
    """A draft with ``line`` appended and discounts re-allocated.

    Pass the currency the line was priced in as ``currency`` to have it checked.

    :raises InvoiceNotEditableError: the invoice is not a draft.
    :raises CurrencyMismatchError: ``currency`` is not the invoice's currency.
    :raises ValidationError: a line with the same id exists.
    """
    require_draft(invoice)
    if currency is not None:
        ensure_same_currency(invoice, currency)
    if any(existing.id == line.id for existing in invoice.lines):
        raise ValidationError(f"Invoice {invoice.id} already has line {line.id}.", line=line.id)
    fresh = line.model_copy(update={"discount_amounts": (), "tax_amounts": ()})
    return _rebuild(invoice, (*invoice.lines, fresh), invoice.coupons)


def remove_line(invoice: Invoice, line_id: str) -> Invoice:
    """A draft without line ``line_id``; :class:`NotFoundError` if it has no such line."""
    require_draft(invoice)
    invoice.line(line_id)
    return _rebuild(invoice, [ln for ln in invoice.lines if ln.id != line_id], invoice.coupons)


def apply_coupons(
    invoice: Invoice, coupons: Sequence[Coupon], *, order: DiscountOrder | None = None
) -> Invoice:
    """A draft discounted by exactly ``coupons`` (replacing any applied before; ``()`` clears).

    Redemption rules (:func:`~lms_billing.domain.coupons.check_redeemable`) are the caller's
    first step; this only allocates. :raises CouponCurrencyMismatchError,
    CouponNotStackableError, InvoiceNotEditableError:
    """
    require_draft(invoice)
    target = invoice if order is None else invoice.model_copy(update={"discount_order": order})
    return _rebuild(target, invoice.lines, coupons)


def order_summary(invoice: Invoice) -> OrderSummary:
    """The draft as an order, for coupon conditions (subtotal before discounts, lines)."""
    return OrderSummary(
        currency=invoice.currency,
        subtotal=max(0, invoice.subtotal),
        lines=tuple(
            OrderLine(amount=line.amount, product_id=line.product_id, price_id=line.price_id)
            for line in invoice.lines
        ),
    )


def remove_coupon(
    invoice: Invoice,
    coupon_id: str,
    now: datetime,
    *,
    reason: str = "requested",
    message: str = "",
    promotion_code_id: str | None = None,
) -> Invoice:
    """A draft without coupon ``coupon_id``, discounts re-allocated and the removal recorded
    in ``removed_coupons``. Idempotent: a coupon that is not applied leaves the draft as is.

    :raises InvoiceNotEditableError: the invoice is not a draft.
    """
    require_draft(invoice)
    if not any(c.id == coupon_id for c in invoice.coupons):
        return invoice
    kept = [c for c in invoice.coupons if c.id != coupon_id]
    record = RemovedCoupon(
        coupon_id=coupon_id,
        promotion_code_id=promotion_code_id,
        reason=reason,
        message=message,
        removed_at=ensure_aware(now, name="now"),
    )
    rebuilt = _rebuild(invoice, invoice.lines, kept)
    return rebuilt.model_copy(update={"removed_coupons": (*invoice.removed_coupons, record)})


def drop_inapplicable_coupons(
    invoice: Invoice,
    now: datetime,
    *,
    codes: Mapping[str, PromotionCode | None] | None = None,
    only: Collection[str] | None = None,
) -> tuple[Invoice, tuple[RemovedCoupon, ...]]:
    """Re-check the order conditions of the draft's coupons against its current lines and
    take off each one that no longer applies (see :func:`remove_coupon`).

    The conditions are those of :func:`~lms_billing.domain.coupons.check_order_conditions`:
    minimum amounts (of the coupon and of the promotion code it was redeemed with, given in
    ``codes`` by coupon id) and product/price restrictions. Only coupons in ``only`` are
    checked when it is given (a service passes the coupons redeemed on this invoice; a
    subscription's discounts were checked when the subscription redeemed them). Returns the
    draft and what was removed (``()`` and the same draft when everything still applies).
    """
    require_draft(invoice)
    order = order_summary(invoice)
    known = codes or {}
    removed: list[RemovedCoupon] = []
    for coupon in invoice.coupons:
        if only is not None and coupon.id not in only:
            continue
        code = known.get(coupon.id)
        try:
            check_order_conditions(coupon, code, order)
        except (CouponNotApplicableError, CouponCurrencyMismatchError) as failed:
            invoice = remove_coupon(
                invoice,
                coupon.id,
                now,
                reason=str(failed.details.get("reason", failed.code)),
                message=failed.message,
                promotion_code_id=None if code is None else code.id,
            )
            removed.append(invoice.removed_coupons[-1])
    return invoice, tuple(removed)


def delete_draft(invoice: Invoice) -> None:
    """Check that ``invoice`` may be deleted (drafts only; finalized invoices are voided)."""
    if invoice.status is not InvoiceStatus.DRAFT:
        raise InvalidStateTransitionError(
            f"Invoice {invoice.id} is {invoice.status.value}; only drafts can be deleted, "
            "void it instead.",
            invoice=invoice.id,
        )


# --- tax ---------------------------------------------------------------------------------


class TaxContext(BaseModel):
    """What a tax request needs besides the invoice's lines."""

    model_config = ConfigDict(frozen=True)

    seller: SellerTaxProfile
    customer: TaxCustomer
    transaction_date: date
    evidence: LocationEvidence | None = None


def tax_request(invoice: Invoice, context: TaxContext) -> TaxRequest:
    """The :class:`TaxRequest` for a draft: each line's discounted amount (``net_amount``).

    Engines tax positive amounts, so a credit line (a proration for unused time) is sent as
    its absolute value and :func:`compute_tax` mirrors the answer back as negative tax: the
    credit reduces the tax exactly as it reduces the net amount.
    """
    return TaxRequest(
        seller=context.seller,
        customer=context.customer,
        currency=invoice.currency,
        items=tuple(
            TaxLineItem(
                line_id=line.id,
                amount=abs(line.net_amount),
                quantity=line.quantity,
                tax_code=line.tax_code,
                tax_behavior=line.tax_behavior,
            )
            for line in invoice.lines
        ),
        transaction_date=context.transaction_date,
        evidence=context.evidence,
    )


def compute_tax(invoice: Invoice, engine: TaxEngine, request_context: TaxContext) -> Invoice:
    """A draft with tax lines from ``engine`` (computed on discounted line amounts).

    :raises InvoiceNotEditableError: the invoice is not a draft.
    :raises PluginError: the engine declines the request or answers about unknown lines.
    """
    require_draft(invoice)
    request = tax_request(invoice, request_context)
    if not engine.handles(request):
        raise PluginError(f"Tax engine {engine.name!r} does not handle this invoice.")
    result = engine.calculate(request)
    by_line: dict[str, list[LineTaxAmount]] = {line.id: [] for line in invoice.lines}
    signs = {line.id: -1 if line.net_amount < 0 else 1 for line in invoice.lines}
    for tax_line in result.lines:
        if tax_line.line_id not in by_line:
            raise PluginError(
                f"Tax engine {engine.name!r} returned tax for unknown line {tax_line.line_id}.",
                line=tax_line.line_id,
            )
        sign = signs[tax_line.line_id]
        by_line[tax_line.line_id].append(LineTaxAmount.from_tax_line(tax_line, sign=sign))
    for line in invoice.lines:
        inclusive = [t for t in by_line[line.id] if t.inclusive]
        if abs(sum(t.amount for t in inclusive)) > abs(line.net_amount):
            raise PluginError(f"Tax engine {engine.name!r}: inclusive tax exceeds line {line.id}.")
    return invoice.model_copy(
        update={
            "lines": tuple(
                line.model_copy(update={"tax_amounts": tuple(by_line[line.id])})
                for line in invoice.lines
            ),
            "tax_computed": True,
            "tax_engine": result.engine,
            "tax_notes": result.notes,
            "tax_needs_review": result.needs_review,
            "tax_review_reasons": result.review_reasons,
            "tax_vat_id_checks": result.vat_id_checks,
        }
    )


# --- lifecycle ---------------------------------------------------------------------------


def _require_transition(invoice: Invoice, target: InvoiceStatus) -> None:
    if not can_transition(invoice.status, target):
        raise InvalidStateTransitionError(
            f"Invoice {invoice.id} cannot go from {invoice.status.value} to {target.value}.",
            invoice=invoice.id,
            source=invoice.status.value,
            target=target.value,
        )


def finalize(
    invoice: Invoice,
    number: str,
    now: datetime,
    *,
    customer_balance: int = 0,
    allow_tax_review: bool = False,
) -> Invoice:
    """Finalize a draft: number it, apply customer credit, and open it.

    ``customer_balance`` is the customer's available credit (minor units, >= 0); the part
    applied is stored as ``applied_balance`` and the caller debits it from the balance.
    When nothing is left due the invoice is marked ``paid`` at once.

    A negative total (proration credits larger than the charges, e.g. a downgrade invoiced
    at once) is owed to the customer, as Stripe does it: it is stored as
    ``credited_to_balance`` (its absolute value) for the caller to add to the customer's
    balance, where the next invoice uses it, and the invoice is ``paid``.

    :raises InvalidStateTransitionError: not a draft, tax not computed yet, or the tax
        engine asked for review (unless ``allow_tax_review``).
    """
    _require_transition(invoice, InvoiceStatus.OPEN)
    moment = ensure_aware(now, name="now")
    if not number or not number.strip():
        raise ValidationError("An invoice number is required to finalize.")
    balance = validate_minor_units(customer_balance)
    if invoice.lines and not invoice.tax_computed:
        raise InvalidStateTransitionError(
            f"Compute tax for invoice {invoice.id} before finalizing it.", reason="tax_pending"
        )
    if invoice.tax_needs_review and not allow_tax_review:
        raise InvalidStateTransitionError(
            f"Invoice {invoice.id} has tax that needs review: {list(invoice.tax_review_reasons)}.",
            reason="tax_needs_review",
        )
    opened = invoice.model_copy(
        update={
            "status": InvoiceStatus.OPEN,
            "number": number.strip(),
            "finalized_at": moment,
            "applied_balance": min(balance, max(invoice.total, 0)),
            "credited_to_balance": max(0, -invoice.total),
        }
    )
    if opened.amount_due == 0:
        return opened.model_copy(update={"status": InvoiceStatus.PAID, "paid_at": moment})
    return opened


def mark_paid(
    invoice: Invoice, amount: int, now: datetime, *, paid_out_of_band: bool = False
) -> Invoice:
    """Record a payment of ``amount`` minor units; ``paid`` once nothing remains.

    Partial payments keep the invoice ``open`` (or ``uncollectible``).

    :raises InvalidStateTransitionError: the invoice is not open or uncollectible.
    :raises InvalidAmountError: ``amount`` is not a positive whole number of minor units.
    :raises OverpaymentError: ``amount`` exceeds ``amount_remaining``.
    """
    _require_transition(invoice, InvoiceStatus.PAID)
    moment = ensure_aware(now, name="now")
    paid = validate_minor_units(amount)
    if paid == 0 and invoice.amount_remaining > 0:
        raise InvalidAmountError("A payment must be larger than zero.")
    if paid > invoice.amount_remaining:
        raise OverpaymentError(
            f"Payment {paid} exceeds amount remaining {invoice.amount_remaining}.",
            amount=paid,
            amount_remaining=invoice.amount_remaining,
        )
    updated = invoice.model_copy(
        update={
            "amount_paid": invoice.amount_paid + paid,
            "paid_out_of_band": invoice.paid_out_of_band or paid_out_of_band,
        }
    )
    if updated.amount_remaining == 0:
        return updated.model_copy(update={"status": InvoiceStatus.PAID, "paid_at": moment})
    return updated


def void(invoice: Invoice, now: datetime) -> Invoice:
    """Void an open or uncollectible invoice (it stays numbered: no gap in the series).

    An invoice that has received payments cannot be voided, as with Stripe: voiding would
    leave the money recorded against an invoice that no longer exists. Issue a credit note
    instead (:func:`~lms_billing.domain.credit_notes.credit_invoice`): it reduces what is
    still due and refunds or credits the customer for what was paid.

    :raises InvalidStateTransitionError: the invoice is a draft, paid or void.
    :raises InvoiceHasPaymentsError: ``amount_paid`` is above zero.
    """
    _require_transition(invoice, InvoiceStatus.VOID)
    if invoice.amount_paid > 0:
        raise InvoiceHasPaymentsError(
            f"Invoice {invoice.id} has {invoice.amount_paid} minor units paid; issue a credit "
            "note (refund or customer credit) instead of voiding it.",
            invoice=invoice.id,
            amount_paid=invoice.amount_paid,
        )
    return invoice.model_copy(
        update={"status": InvoiceStatus.VOID, "voided_at": ensure_aware(now, name="now")}
    )


def mark_uncollectible(invoice: Invoice, now: datetime) -> Invoice:
    """Write off an open invoice; it can still be paid or voided later."""
    _require_transition(invoice, InvoiceStatus.UNCOLLECTIBLE)
    return invoice.model_copy(
        update={
            "status": InvoiceStatus.UNCOLLECTIBLE,
            "marked_uncollectible_at": ensure_aware(now, name="now"),
        }
    )


def ensure_same_currency(invoice: Invoice, currency: str) -> None:
    """:class:`CurrencyMismatchError` unless ``currency`` is the invoice's."""
    if currency.upper() != invoice.currency:
        raise CurrencyMismatchError(
            f"Invoice {invoice.id} is in {invoice.currency}, not {currency}.",
            left=invoice.currency,
            right=currency,
        )


__all__ = [
    "TRANSITIONS",
    "Invoice",
    "InvoiceLine",
    "InvoiceLineKind",
    "InvoiceStatus",
    "LineDiscountAmount",
    "LineTaxAmount",
    "Period",
    "RemovedCoupon",
    "TaxBreakdownRow",
    "TaxContext",
    "add_line",
    "apply_coupons",
    "can_transition",
    "compute_tax",
    "delete_draft",
    "drop_inapplicable_coupons",
    "ensure_same_currency",
    "finalize",
    "mark_paid",
    "mark_uncollectible",
    "order_summary",
    "remove_coupon",
    "remove_line",
    "require_draft",
    "tax_request",
    "void",
]
