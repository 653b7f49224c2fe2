"""Localized view models: documents turned into the strings a person reads.

HTML and PDF renderers draw the same :class:`DocumentView`, so an amount or a date is
formatted in exactly one place: amounts with :func:`lms_billing.money.format_money`, dates
and percentages with babel, both in the reader's locale.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.core import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from pydantic import BaseModel, ConfigDict

from lms_billing.domain.credit_notes import CreditNote
from lms_billing.domain.customers import Address, TaxId
from lms_billing.domain.invoices import Invoice, LineTaxAmount
from lms_billing.domain.receipts import Receipt
from lms_billing.errors import ValidationError
from lms_billing.money import format_money, from_minor_units
from lms_billing.rendering.labels import labels_for

# Countries that print "City, ST 12345" rather than "12345 City".
_CITY_FIRST = frozenset({"US", "CA", "AU", "GB", "IE"})


class Party(BaseModel):
    """A seller or buyer as printed on a document."""

    model_config = ConfigDict(frozen=True)

    name: str
    email: str | None = None
    address: Address | None = None
    tax_ids: tuple[TaxId, ...] = ()


class SellerDetails(Party):
    """The issuing business: printed in the header and footer of every document.

    ``legal_notes`` are printed on every invoice (registered office, company number, a
    small-business VAT exemption notice ...); ``payment_instructions`` on invoices only.
    """

    legal_notes: tuple[str, ...] = ()
    payment_instructions: str | None = None
    website: str | None = None


@dataclass(frozen=True)
class Row:
    label: str
    value: str
    strong: bool = False


@dataclass(frozen=True)
class PartyView:
    name: str
    lines: tuple[str, ...] = ()
    tax_ids: tuple[str, ...] = ()
    email: str | None = None


@dataclass(frozen=True)
class LineView:
    description: str
    details: tuple[str, ...]
    quantity: str
    unit_price: str
    amount: str


@dataclass(frozen=True)
class TaxRowView:
    label: str
    taxable_amount: str
    amount: str


@dataclass(frozen=True)
class DocumentView:
    """Everything a template prints, already localized."""

    kind: str
    title: str
    number: str
    status: str | None
    locale: str
    lang: str
    meta: tuple[Row, ...]
    seller: PartyView
    buyer: PartyView | None
    lines: tuple[LineView, ...]
    totals: tuple[Row, ...]
    tax_rows: tuple[TaxRowView, ...]
    notes: tuple[str, ...]
    footer: tuple[str, ...]
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def show_unit_price(self) -> bool:
        """False when no line has a unit price (receipts): the column is left out."""
        return any(line.unit_price for line in self.lines)


class _Fmt:
    """Formatting helpers and labels bound to one locale, currency and time zone."""

    def __init__(
        self, locale: str, currency: str, timezone: str, labels: Mapping[str, str] | None
    ) -> None:
        try:
            self.locale = Locale.parse(locale.replace("-", "_"))
        except (UnknownLocaleError, ValueError, TypeError) as exc:
            raise ValidationError(f"Unknown locale {locale!r}.", locale=locale) from exc
        try:
            self.zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError(f"Unknown time zone {timezone!r}.", timezone=timezone) from exc
        self.tag = str(self.locale)
        self.currency = currency
        # The locale's labels with the host's overrides on top.
        self.labels = labels_for(self.tag, labels)

    def money(self, minor: int) -> str:
        return format_money(from_minor_units(minor, self.currency, allow_negative=True), self.tag)

    def date(self, moment: datetime) -> str:
        return str(format_date(moment.astimezone(self.zone).date(), "long", locale=self.locale))

    def number(self, value: int) -> str:
        return str(format_decimal(value, locale=self.locale))

    def percent(self, rate: Decimal) -> str:
        # The locale's pattern ("19 %" in German) without rounding 7.5 % to 8 %.
        return str(format_percent(rate, locale=self.locale, decimal_quantization=False))

    def country(self, code: str) -> str:
        return str(self.locale.territories.get(code, code))


def _tax_id(tax_id: TaxId, labels: Mapping[str, str]) -> str:
    """``USt-IdNr.: DE123456789``: the type's own label where known, else the generic one."""
    label = labels.get(f"tax_id_{tax_id.type}", labels["tax_id"])
    return f"{label}: {tax_id.value}"


def _party(party: Party, fmt: _Fmt, labels: Mapping[str, str]) -> PartyView:
    lines: list[str] = []
    address = party.address
    if address is not None:
        lines.extend(x for x in (address.line1, address.line2) if x)
        if address.country in _CITY_FIRST:
            city = ", ".join(x for x in (address.city, address.state) if x)
            lines.append(" ".join(x for x in (city, address.postal_code) if x))
        else:
            lines.append(" ".join(x for x in (address.postal_code, address.city) if x))
            if address.state:
                lines.append(address.state)
        lines.append(fmt.country(address.country))
    return PartyView(
        name=party.name,
        lines=tuple(line for line in lines if line),
        tax_ids=tuple(_tax_id(tax_id, labels) for tax_id in party.tax_ids),
        email=party.email,
    )


def _tax_label(tax: LineTaxAmount, fmt: _Fmt, labels: Mapping[str, str]) -> str:
    label = f"{tax.tax_type.replace('_', ' ').upper()} {tax.jurisdiction} {fmt.percent(tax.rate)}"
    if tax.reverse_charge:
        return f"{label} ({labels['reverse_charge']})"
    if tax.inclusive:
        return f"{label} ({labels['included']})"
    return label


def _tax_rows(
    taxes: Iterable[LineTaxAmount], fmt: _Fmt, labels: Mapping[str, str]
) -> tuple[TaxRowView, ...]:
    groups: dict[str, tuple[int, int]] = {}
    for tax in taxes:
        key = _tax_label(tax, fmt, labels)
        taxable, amount = groups.get(key, (0, 0))
        groups[key] = (taxable + tax.taxable_amount, amount + tax.amount)
    return tuple(
        TaxRowView(label=label, taxable_amount=fmt.money(taxable), amount=fmt.money(amount))
        for label, (taxable, amount) in sorted(groups.items())
    )


def _legal_notes(
    notes: Sequence[str], reverse_charge: bool, labels: Mapping[str, str]
) -> list[str]:
    result = []
    for note in dict.fromkeys(notes):
        # Engines write the EU mention in English; print it in the reader's language too.
        if note.strip().lower() == "reverse charge" and labels["reverse_charge"] != note:
            note = f"{labels['reverse_charge']} ({note.strip()})"
        result.append(note)
    if reverse_charge and not any("reverse" in n.lower() for n in result):
        result.append(f"{labels['reverse_charge']} (Reverse charge)")
    return result


def _footer(seller: SellerDetails, labels: Mapping[str, str], extra: str | None) -> tuple[str, ...]:
    parts = [seller.name]
    parts.extend(_tax_id(tax_id, labels) for tax_id in seller.tax_ids)
    parts.extend(x for x in (seller.email, seller.website) if x)
    footer = [" · ".join(parts), *seller.legal_notes]
    if extra:
        footer.append(extra)
    return tuple(footer)


def _document_view(
    kind: str,
    fmt: _Fmt,
    seller: SellerDetails,
    buyer: Party | None,
    *,
    number: str,
    status: str | None,
    meta: Sequence[Row],
    lines: Sequence[LineView],
    totals: Sequence[Row],
    tax_rows: tuple[TaxRowView, ...] = (),
    notes: Sequence[str] = (),
    footer: str | None = None,
) -> DocumentView:
    """What every document prints alike: the title (the label named like ``kind``), the
    reader's locale, both parties, the footer (plus the document's own ``footer`` line)."""
    text = fmt.labels
    return DocumentView(
        kind=kind,
        title=text[kind],
        number=number,
        status=status,
        locale=fmt.tag,
        lang=fmt.locale.language,
        meta=tuple(meta),
        seller=_party(seller, fmt, text),
        buyer=None if buyer is None else _party(buyer, fmt, text),
        lines=tuple(lines),
        totals=tuple(totals),
        tax_rows=tax_rows,
        notes=tuple(notes),
        footer=_footer(seller, text, footer),
        labels=text,
    )


def _line_view(
    fmt: _Fmt,
    description: str,
    amount: int,
    *,
    quantity: int | None = None,
    unit_amount: int | None = None,
    details: Sequence[str] = (),
) -> LineView:
    """A table row; a missing quantity or unit price prints as an empty cell."""
    return LineView(
        description=description,
        details=tuple(details),
        quantity="" if quantity is None else fmt.number(quantity),
        unit_price="" if unit_amount is None else fmt.money(unit_amount),
        amount=fmt.money(amount),
    )


def _customer_snapshot(document: Invoice | Receipt) -> Party | None:
    """The buyer as stored on an invoice or receipt when it was issued, if it has a name."""
    if not document.customer_name:
        return None
    return Party(
        name=document.customer_name,
        email=document.customer_email,
        address=document.customer_address,
        tax_ids=document.customer_tax_ids,
    )


def invoice_buyer(invoice: Invoice) -> Party | None:
    """The buyer snapshot stored on the invoice, if it has a name."""
    return _customer_snapshot(invoice)


def invoice_view(
    invoice: Invoice,
    seller: SellerDetails,
    *,
    locale: str = "en_US",
    timezone: str = "UTC",
    labels: Mapping[str, str] | None = None,
    buyer: Party | None = None,
) -> DocumentView:
    """The localized view of an invoice (any status; drafts print without a number)."""
    fmt = _Fmt(locale, invoice.currency, timezone, labels)
    text = fmt.labels
    issued = invoice.finalized_at or invoice.created_at
    meta = [Row(text["invoice_number"], invoice.number or text["status_draft"])]
    meta.append(Row(text["date_of_issue"], fmt.date(issued)))
    if invoice.due_date is not None:
        meta.append(Row(text["due_date"], fmt.date(invoice.due_date)))
    if invoice.paid_at is not None:
        meta.append(Row(text["date_paid"], fmt.date(invoice.paid_at)))
    coupons = {c.id: c.name or c.id for c in invoice.coupons}
    lines = []
    for line in invoice.lines:
        details = []
        if line.period is not None:
            details.append(f"{fmt.date(line.period.start)} \u2013 {fmt.date(line.period.end)}")
        if line.proration:
            details.append(text["proration"])
        details.extend(
            f"{text['discount']} ({coupons.get(d.coupon_id, d.coupon_id)}): {fmt.money(-d.amount)}"
            for d in line.discount_amounts
        )
        lines.append(
            _line_view(
                fmt,
                line.description,
                line.amount,
                quantity=line.quantity,
                unit_amount=line.unit_amount,
                details=details,
            )
        )
    totals = [Row(text["subtotal"], fmt.money(invoice.subtotal))]
    if invoice.total_discount:
        totals.append(Row(text["total_discount"], fmt.money(-invoice.total_discount)))
    taxes = [t for line in invoice.lines for t in line.tax_amounts]
    if taxes:
        totals.append(Row(text["total_excluding_tax"], fmt.money(invoice.total_excluding_tax)))
        totals.append(Row(text["tax"], fmt.money(invoice.tax)))
    totals.append(Row(text["total"], fmt.money(invoice.total), strong=True))
    if invoice.applied_balance:
        totals.append(Row(text["applied_balance"], fmt.money(-invoice.applied_balance)))
    if invoice.pre_payment_credit_notes_amount:
        totals.append(
            Row(text["credit_notes"], fmt.money(-invoice.pre_payment_credit_notes_amount))
        )
    if invoice.amount_paid:
        totals.append(Row(text["amount_paid"], fmt.money(invoice.amount_paid)))
    due_label = "amount_remaining" if invoice.amount_paid else "amount_due"
    totals.append(Row(text[due_label], fmt.money(invoice.amount_remaining), strong=True))
    notes = _legal_notes(invoice.tax_notes, any(t.reverse_charge for t in taxes), text)
    if invoice.description:
        notes.append(invoice.description)
    if seller.payment_instructions and invoice.amount_remaining:
        notes.append(seller.payment_instructions)
    return _document_view(
        "invoice",
        fmt,
        seller,
        buyer or invoice_buyer(invoice),
        number=invoice.number or "",
        status=text[f"status_{invoice.status.value}"],
        meta=meta,
        lines=lines,
        totals=totals,
        tax_rows=_tax_rows(taxes, fmt, text),
        notes=notes,
        footer=invoice.footer,
    )


def receipt_view(
    receipt: Receipt,
    seller: SellerDetails,
    *,
    locale: str = "en_US",
    timezone: str = "UTC",
    labels: Mapping[str, str] | None = None,
) -> DocumentView:
    """The localized view of a payment receipt."""
    fmt = _Fmt(locale, receipt.currency, timezone, labels)
    text = fmt.labels
    meta = [Row(text["receipt_number"], receipt.number)]
    if receipt.invoice_number:
        meta.append(Row(text["invoice_reference"], receipt.invoice_number))
    meta.append(Row(text["date_paid"], fmt.date(receipt.paid_at)))
    if receipt.payment_method:
        meta.append(Row(text["payment_method"], receipt.payment_method))
    totals = []
    if receipt.invoice_total is not None:
        totals.append(Row(text["total"], fmt.money(receipt.invoice_total)))
    if receipt.tax:
        totals.append(Row(text["tax"], fmt.money(receipt.tax)))
    totals.append(Row(text["amount_paid"], fmt.money(receipt.amount_paid), strong=True))
    if receipt.amount_remaining:
        totals.append(Row(text["amount_remaining"], fmt.money(receipt.amount_remaining)))
    return _document_view(
        "receipt",
        fmt,
        seller,
        _customer_snapshot(receipt),
        number=receipt.number,
        status=None,
        meta=meta,
        lines=[
            _line_view(fmt, line.description, line.amount, quantity=line.quantity)
            for line in receipt.lines
        ],
        totals=totals,
        notes=[x for x in (receipt.description,) if x],
    )


def credit_note_view(
    note: CreditNote,
    seller: SellerDetails,
    *,
    locale: str = "en_US",
    timezone: str = "UTC",
    labels: Mapping[str, str] | None = None,
    buyer: Party | None = None,
) -> DocumentView:
    """The localized view of a credit note; pass the invoice's buyer as ``buyer``."""
    fmt = _Fmt(locale, note.currency, timezone, labels)
    text = fmt.labels
    meta = [Row(text["credit_note_number"], note.number)]
    if note.invoice_number:
        meta.append(Row(text["invoice_reference"], note.invoice_number))
    meta.append(Row(text["date_of_issue"], fmt.date(note.created_at)))
    if note.reason is not None:
        meta.append(Row(text["reason"], text[f"reason_{note.reason.value}"]))
    lines = []
    for line in note.lines:
        details: tuple[str, ...] = ()
        if line.unit_amount is not None and line.quantity is not None:
            gross = line.unit_amount * line.quantity
            if gross != line.amount:  # the invoice line was discounted: say by how much
                details = (f"{text['discount']}: {fmt.money(line.amount - gross)}",)
        lines.append(
            _line_view(
                fmt,
                line.description,
                line.amount,
                quantity=line.quantity,
                unit_amount=line.unit_amount,
                details=details,
            )
        )
    taxes = [t for line in note.lines for t in line.tax_amounts]
    totals = [Row(text["subtotal"], fmt.money(note.subtotal))]
    if taxes:
        totals.append(Row(text["tax"], fmt.money(note.tax)))
    totals.append(Row(text["total"], fmt.money(note.total), strong=True))
    outcomes = (
        ("reduces_amount_due", note.pre_payment_amount),
        ("refund", note.refund_amount),
        ("out_of_band", note.out_of_band_amount),
        ("credit_to_balance", note.credit_amount),
    )
    totals.extend(Row(text[key], fmt.money(amount)) for key, amount in outcomes if amount)
    notes = _legal_notes((), any(t.reverse_charge for t in taxes), text)
    if note.memo:
        notes.append(note.memo)
    return _document_view(
        "credit_note",
        fmt,
        seller,
        buyer,
        number=note.number,
        status=None if note.status.value == "issued" else text["status_void"],
        meta=meta,
        lines=lines,
        totals=totals,
        tax_rows=_tax_rows(taxes, fmt, text),
        notes=notes,
    )


__all__ = [
    "DocumentView",
    "LineView",
    "Party",
    "PartyView",
    "Row",
    "SellerDetails",
    "TaxRowView",
    "credit_note_view",
    "invoice_buyer",
    "invoice_view",
    "receipt_view",
]
