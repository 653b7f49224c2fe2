"""Credit notes: corrections to finalized invoices, full or partial.

A credit note credits some of what an invoice charged, in one of three ways:

* **by line and quantity** - "2 of the 5 seats": the line's discounted amount and each of
  its taxes are credited in proportion (rounded half-up; the last unit credits exactly what
  is left, so repeated partial credits never drift);
* **by line and amount** - "EUR 10.00 off the course line" (before tax; tax follows in
  proportion);
* **by total amount** - "EUR 50.00 including tax": split across lines by what each can still
  be credited, then inside each line between net amount and taxes, both with
  :func:`~lms_billing.money.allocate_minor`, so the parts sum exactly.

Nothing can be credited beyond what was invoiced minus what earlier credit notes credited
(:class:`~lms_billing.errors.CreditExceedsInvoiceError`).

Where the money goes, as Stripe does it: on an ``open`` (or ``uncollectible``) invoice the
credit first reduces the amount still due (``pre_payment_amount``); whatever exceeds it, and
all of a credit on a ``paid`` invoice (``post_payment_amount``), is split into
``refund_amount`` (money back through the gateway), ``out_of_band_amount`` (refunded outside
lms-billing) and ``credit_amount`` (the rest, added to the customer's credit balance).
Credit notes are numbered in their own series
(:data:`~lms_billing.domain.numbering.CREDIT_NOTE_SERIES`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, computed_field, model_validator

from lms_billing.clock import ensure_aware
from lms_billing.domain.invoices import Invoice, InvoiceLine, InvoiceStatus, LineTaxAmount
from lms_billing.errors import (
    CreditExceedsInvoiceError,
    InvalidAmountError,
    InvalidQuantityError,
    InvoiceNotCreditableError,
    NotFoundError,
    ValidationError,
)
from lms_billing.money import (
    DECIMAL_CONTEXT,
    CurrencyCode,
    MinorUnits,
    RoundingMode,
    allocate_minor,
    round_minor,
    validate_minor_units,
)

_CREDITABLE = frozenset({InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE})


def _units(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidQuantityError(f"Credit a whole number of units >= 1, not {value!r}.")
    return value


class CreditNoteReason(StrEnum):
    """Stripe's credit note reasons."""

    DUPLICATE = "duplicate"
    FRAUDULENT = "fraudulent"
    ORDER_CHANGE = "order_change"
    PRODUCT_UNSATISFACTORY = "product_unsatisfactory"


class CreditNoteStatus(StrEnum):
    ISSUED = "issued"
    VOID = "void"


class CreditLineRequest(BaseModel):
    """Credit one invoice line by ``quantity`` or by pre-tax ``amount`` (exactly one)."""

    model_config = ConfigDict(frozen=True)

    invoice_line_id: str
    quantity: Annotated[int | None, BeforeValidator(_units)] = None
    amount: MinorUnits | None = None

    @model_validator(mode="after")
    def _one(self) -> CreditLineRequest:
        if (self.quantity is None) == (self.amount is None):
            raise ValidationError("Credit a line by quantity or by amount, not both or neither.")
        if self.amount == 0:
            raise InvalidAmountError("A credit amount must be larger than zero.")
        return self


class CreditNoteRequest(BaseModel):
    """What to credit (``lines`` or a tax-inclusive ``amount``) and where the money goes."""

    model_config = ConfigDict(frozen=True)

    lines: tuple[CreditLineRequest, ...] = ()
    amount: MinorUnits | None = Field(default=None, description="Total including tax.")
    reason: CreditNoteReason | None = None
    memo: str | None = None
    refund_amount: MinorUnits = 0
    out_of_band_amount: MinorUnits = 0

    @model_validator(mode="after")
    def _one(self) -> CreditNoteRequest:
        if bool(self.lines) == (self.amount is not None):
            raise ValidationError("A credit note needs either lines or an amount.")
        if self.amount == 0:
            raise InvalidAmountError("A credit amount must be larger than zero.")
        ids = [line.invoice_line_id for line in self.lines]
        if len(ids) != len(set(ids)):
            raise ValidationError("Each invoice line may appear once per credit note.")
        return self


class CreditNoteLine(BaseModel):
    """What one invoice line is credited; ``tax_amounts`` mirror the line's taxes in order."""

    model_config = ConfigDict(frozen=True)

    invoice_line_id: str
    description: str
    quantity: int | None = None
    unit_amount: int | None = None
    amount: MinorUnits = Field(description="Credited amount after discounts, before tax.")
    tax_amounts: tuple[LineTaxAmount, ...] = ()

    @property
    def exclusive_tax(self) -> int:
        return sum(t.amount for t in self.tax_amounts if not t.inclusive)

    @property
    def tax(self) -> int:
        return sum(t.amount for t in self.tax_amounts)

    @property
    def total(self) -> int:
        return self.amount + self.exclusive_tax


class CreditNote(BaseModel):
    """A numbered correction to one finalized invoice."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    number: str = Field(min_length=1)
    invoice_id: str
    invoice_number: str | None = None
    customer_id: str
    currency: CurrencyCode
    status: CreditNoteStatus = CreditNoteStatus.ISSUED
    reason: CreditNoteReason | None = None
    memo: str | None = None
    lines: tuple[CreditNoteLine, ...]
    pre_payment_amount: MinorUnits = 0
    post_payment_amount: MinorUnits = 0
    refund_amount: MinorUnits = 0
    out_of_band_amount: MinorUnits = 0
    credit_amount: MinorUnits = Field(default=0, description="Added to the customer balance.")
    created_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def subtotal(self) -> int:
        return sum(line.amount for line in self.lines)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def tax(self) -> int:
        return sum(line.tax for line in self.lines)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total(self) -> int:
        return sum(line.total for line in self.lines)


class _Remaining:
    """What one invoice line can still be credited, after earlier credit notes."""

    def __init__(self, line: InvoiceLine, notes: Sequence[CreditNote]) -> None:
        self.line = line
        credited = [cl for note in notes for cl in note.lines if cl.invoice_line_id == line.id]
        # Credit lines (negative amounts) carry nothing creditable.
        self.net = max(line.net_amount, 0) - sum(cl.amount for cl in credited)
        self.taxes = [max(t.amount, 0) for t in line.tax_amounts]
        for cl in credited:
            for index, tax in enumerate(cl.tax_amounts):
                self.taxes[index] -= tax.amount
        self.quantity = line.quantity - sum(cl.quantity or 0 for cl in credited)

    @property
    def total(self) -> int:
        exclusive = sum(
            amount
            for amount, tax in zip(self.taxes, self.line.tax_amounts, strict=True)
            if not tax.inclusive
        )
        return self.net + exclusive

    @property
    def inclusive(self) -> int:
        return sum(
            amount
            for amount, tax in zip(self.taxes, self.line.tax_amounts, strict=True)
            if tax.inclusive
        )


def _proportion(value: int, numerator: int, denominator: int) -> int:
    # Rounding point: proportional partial credits round half-up to the minor unit.
    exact = DECIMAL_CONTEXT.divide(Decimal(value * numerator), Decimal(denominator))
    return round_minor(exact, RoundingMode.HALF_UP)


def _clamp(taxes: Sequence[int], remaining: _Remaining) -> list[int]:
    # Half-up rounding of earlier partial credits may leave a unit less than the proportion.
    return [min(tax, left) for tax, left in zip(taxes, remaining.taxes, strict=True)]


def _credit_line(
    remaining: _Remaining, net: int, taxes: Sequence[int], quantity: int | None
) -> CreditNoteLine:
    line = remaining.line
    if net > remaining.net or any(t > r for t, r in zip(taxes, remaining.taxes, strict=True)):
        raise CreditExceedsInvoiceError(
            f"Line {line.id} has only {remaining.net} left to credit.",
            line=line.id,
            requested=net,
            remaining=remaining.net,
        )
    # Taxable amounts follow the net credit; for inclusive taxes the net includes the tax.
    return CreditNoteLine(
        invoice_line_id=line.id,
        description=line.description,
        quantity=quantity,
        unit_amount=line.unit_amount if quantity is not None else None,
        amount=net,
        tax_amounts=tuple(
            tax.model_copy(
                update={"amount": part, "taxable_amount": net - part if tax.inclusive else net}
            )
            for tax, part in zip(line.tax_amounts, taxes, strict=True)
        ),
    )


def _by_request(remaining: _Remaining, request: CreditLineRequest) -> CreditNoteLine:
    line = remaining.line
    if request.quantity is not None:
        if request.quantity > remaining.quantity:
            raise CreditExceedsInvoiceError(
                f"Line {line.id} has only {remaining.quantity} units left to credit.",
                line=line.id,
            )
        if request.quantity == remaining.quantity:  # the last units take exactly what is left
            return _credit_line(remaining, remaining.net, remaining.taxes, request.quantity)
        net = _proportion(max(line.net_amount, 0), request.quantity, line.quantity)
        taxes = [_proportion(t.amount, request.quantity, line.quantity) for t in line.tax_amounts]
        return _credit_line(remaining, net, _clamp(taxes, remaining), request.quantity)
    amount = validate_minor_units(request.amount)
    if amount >= remaining.net:
        return _credit_line(remaining, amount, remaining.taxes, None)
    taxes = [_proportion(t.amount, amount, line.net_amount) for t in line.tax_amounts]
    return _credit_line(remaining, amount, _clamp(taxes, remaining), None)


def _by_total(remainders: Sequence[_Remaining], amount: int) -> list[CreditNoteLine]:
    available = sum(r.total for r in remainders)
    if amount > available:
        raise CreditExceedsInvoiceError(
            f"Only {available} is left to credit on this invoice.",
            requested=amount,
            remaining=available,
        )
    result: list[CreditNoteLine] = []
    shares = allocate_minor(amount, [r.total for r in remainders])
    for remaining, share in zip(remainders, shares, strict=True):
        if share == 0:
            continue
        # Split the line's share between its pre-tax base and each tax, by what is left.
        base = remaining.net - remaining.inclusive
        parts = allocate_minor(share, [base, *remaining.taxes])
        taxes = parts[1:]
        inclusive = sum(
            part
            for part, tax in zip(taxes, remaining.line.tax_amounts, strict=True)
            if tax.inclusive
        )
        result.append(_credit_line(remaining, parts[0] + inclusive, taxes, None))
    return result


def issue_credit_note(
    invoice: Invoice,
    request: CreditNoteRequest,
    *,
    credit_note_id: str,
    number: str,
    now: datetime,
    previous: Sequence[CreditNote] = (),
) -> CreditNote:
    """Build the credit note for ``request`` against ``invoice`` (not yet applied).

    ``previous`` are the invoice's earlier credit notes (void ones are ignored).

    :raises InvoiceNotCreditableError: the invoice is a draft (edit it) or void.
    :raises CreditExceedsInvoiceError: more than invoiced minus already credited, or a refund
        larger than what was paid and not yet refunded.
    :raises NotFoundError: a requested line is not on the invoice.
    """
    if invoice.status not in _CREDITABLE:
        raise InvoiceNotCreditableError(
            f"Invoice {invoice.id} is {invoice.status.value}.", status=invoice.status.value
        )
    moment = ensure_aware(now, name="now")
    notes = [
        n for n in previous if n.invoice_id == invoice.id and n.status is CreditNoteStatus.ISSUED
    ]
    remainders = {line.id: _Remaining(line, notes) for line in invoice.lines}
    if request.amount is not None:
        lines = _by_total(list(remainders.values()), request.amount)
    else:
        lines = []
        for item in request.lines:
            if item.invoice_line_id not in remainders:
                raise NotFoundError(
                    f"Invoice {invoice.id} has no line {item.invoice_line_id}.",
                    line=item.invoice_line_id,
                )
            lines.append(_by_request(remainders[item.invoice_line_id], item))
    total = sum(line.total for line in lines)
    already = sum(n.total for n in notes)
    if total + already > max(invoice.total, 0):
        raise CreditExceedsInvoiceError(
            "The credit notes would exceed the invoice total.",
            requested=total,
            remaining=max(invoice.total, 0) - already,
        )
    pre = 0 if invoice.status is InvoiceStatus.PAID else min(total, invoice.amount_remaining)
    post = total - pre
    if request.refund_amount + request.out_of_band_amount > post:
        raise CreditExceedsInvoiceError(
            f"Only {post} of this credit can be refunded; the rest reduces the amount due.",
            refund_amount=request.refund_amount,
            post_payment_amount=post,
        )
    refundable = invoice.amount_paid - sum(n.refund_amount + n.out_of_band_amount for n in notes)
    if request.refund_amount + request.out_of_band_amount > refundable:
        raise CreditExceedsInvoiceError(
            f"Only {refundable} was paid and not yet refunded.", refundable=refundable
        )
    return CreditNote(
        id=credit_note_id,
        number=number,
        invoice_id=invoice.id,
        invoice_number=invoice.number,
        customer_id=invoice.customer_id,
        currency=invoice.currency,
        reason=request.reason,
        memo=request.memo,
        lines=tuple(lines),
        pre_payment_amount=pre,
        post_payment_amount=post,
        refund_amount=request.refund_amount,
        out_of_band_amount=request.out_of_band_amount,
        credit_amount=post - request.refund_amount - request.out_of_band_amount,
        created_at=moment,
    )


def apply_credit_note(invoice: Invoice, note: CreditNote, now: datetime) -> Invoice:
    """The invoice after ``note``: its amount due reduced by the pre-payment part.

    An open invoice whose amount remaining reaches zero is marked ``paid`` (as Stripe does).
    The caller refunds ``note.refund_amount`` and credits ``note.credit_amount`` to the
    customer balance.
    """
    if note.invoice_id != invoice.id:
        raise ValidationError(f"Credit note {note.id} is not for invoice {invoice.id}.")
    if invoice.status not in _CREDITABLE:
        raise InvoiceNotCreditableError(f"Invoice {invoice.id} is {invoice.status.value}.")
    updated = invoice.model_copy(
        update={
            "pre_payment_credit_notes_amount": invoice.pre_payment_credit_notes_amount
            + note.pre_payment_amount,
            "post_payment_credit_notes_amount": invoice.post_payment_credit_notes_amount
            + note.post_payment_amount,
        }
    )
    if updated.status is not InvoiceStatus.PAID and updated.amount_remaining == 0:
        moment = ensure_aware(now, name="now")
        return updated.model_copy(update={"status": InvoiceStatus.PAID, "paid_at": moment})
    return updated


def credit_invoice(
    invoice: Invoice,
    request: CreditNoteRequest,
    *,
    credit_note_id: str,
    number: str,
    now: datetime,
    previous: Sequence[CreditNote] = (),
) -> tuple[CreditNote, Invoice]:
    """:func:`issue_credit_note` then :func:`apply_credit_note`: the note and the new invoice."""
    note = issue_credit_note(
        invoice, request, credit_note_id=credit_note_id, number=number, now=now, previous=previous
    )
    return note, apply_credit_note(invoice, note, now)


__all__ = [
    "CreditLineRequest",
    "CreditNote",
    "CreditNoteLine",
    "CreditNoteReason",
    "CreditNoteRequest",
    "CreditNoteStatus",
    "apply_credit_note",
    "credit_invoice",
    "issue_credit_note",
]
