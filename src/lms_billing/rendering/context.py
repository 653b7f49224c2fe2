"""Localized view models: documents turned into the strings a person reads.

HTML and PDF renderers draw the same :class:`DocumentView`, so an amount or a date is
formatted in exactly one place (:class:`~lms_billing.rendering._format.Formatter`): amounts
with :func:`lms_billing.money.format_money`, dates and percentages with babel, both in the
reader's locale. How tax reads (names per jurisdiction, rate per line, breakdown per rate,
legal notes) is decided in :mod:`lms_billing.rendering._taxes`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lms_billing.domain.credit_notes import CreditNote, CreditNoteStatus
from lms_billing.domain.customers import TaxId
from lms_billing.domain.invoices import Invoice, LineTaxAmount
from lms_billing.domain.receipts import Receipt
from lms_billing.errors import ValidationError
from lms_billing.rendering._format import Formatter
from lms_billing.rendering._taxes import (
    TaxRowView,
    document_tax_name,
    legal_notes,
    line_rate,
    rate_heading,
    tax_groups,
    tax_names,
    tax_rows,
)
from lms_billing.rendering.views import (
    CreditNoteRefView,
    DocumentView,
    LineView,
    Party,
    PartyView,
    Row,
    SellerDetails,
)

# Countries that print "City, ST 12345" rather than "12345 City".
_CITY_FIRST = frozenset({"US", "CA", "AU", "GB", "IE"})


def _tax_id(tax_id: TaxId, labels: Mapping[str, str]) -> str:
    """``USt-IdNr.: DE123456789``: the type's own label where known, else the generic one."""
    label = labels.get(f"tax_id_{tax_id.type}", labels["tax_id"])
    return f"{label}: {tax_id.value}"


def _party(party: Party, fmt: Formatter, labels: Mapping[str, str]) -> PartyView:
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


def _footer(seller: SellerDetails, labels: Mapping[str, str], extra: str | None) -> tuple[str, ...]:
    parts = [seller.name]
    parts.extend(_tax_id(tax_id, labels) for tax_id in seller.tax_ids)
    parts.extend(x for x in (seller.email, seller.website) if x)
    footer = [" · ".join(parts), *seller.legal_notes]
    if extra:
        footer.append(extra)
    return tuple(footer)


class _TaxColumn:
    """The per-line tax rate column of one document, and the name of its tax total."""

    def __init__(self, per_line: Sequence[Sequence[LineTaxAmount]], fmt: Formatter) -> None:
        self.fmt = fmt
        self.taxes = [tax for line in per_line for tax in line]
        self.heading = rate_heading(self.taxes, fmt)
        self.name = document_tax_name(self.taxes, fmt)
        # Several taxes on one document (GST and QST): each cell says which rate is which.
        self._named = len(tax_names(self.taxes, fmt)) > 1

    def cell(self, line_taxes: Sequence[LineTaxAmount]) -> str:
        return line_rate(line_taxes, self.fmt, named=self._named) if self.heading else ""


def _document_view(
    kind: str,
    fmt: Formatter,
    seller: SellerDetails,
    buyer: Party | None,
    *,
    number: str,
    status: str | None,
    meta: Sequence[Row],
    lines: Sequence[LineView],
    totals: Sequence[Row],
    tax: _TaxColumn,
    tax_rows: tuple[TaxRowView, ...] = (),
    notes: Sequence[str] = (),
    footer: str | None = None,
    credit_notes: Sequence[CreditNoteRefView] = (),
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
        tax_rate_heading=tax.heading,
        tax_name=tax.name,
        credit_notes=tuple(credit_notes),
    )


def _line_view(
    fmt: Formatter,
    description: str,
    amount: int,
    *,
    quantity: int | None = None,
    unit_amount: int | None = None,
    details: Sequence[str] = (),
    tax_rate: str = "",
) -> LineView:
    """A table row; a missing quantity or unit price prints as an empty cell."""
    return LineView(
        description=description,
        details=tuple(details),
        quantity="" if quantity is None else fmt.number(quantity),
        unit_price="" if unit_amount is None else fmt.money(unit_amount),
        amount=fmt.money(amount),
        tax_rate=tax_rate,
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


def _outcomes(note: CreditNote) -> list[tuple[str, int]]:
    """Where a credit note's money went, as (label key, amount), the zero ones left out."""
    outcomes = (
        ("reduces_amount_due", note.pre_payment_amount),
        ("refund", note.refund_amount),
        ("out_of_band", note.out_of_band_amount),
        ("credit_to_balance", note.credit_amount),
    )
    return [(key, amount) for key, amount in outcomes if amount]


def _credit_note_refs(
    invoice: Invoice, notes: Sequence[CreditNote], fmt: Formatter
) -> tuple[CreditNoteRefView, ...]:
    text = fmt.labels
    refs = []
    for note in sorted(notes, key=lambda n: (n.created_at, n.number)):
        if note.invoice_id != invoice.id:
            raise ValidationError(
                f"Credit note {note.number} corrects invoice {note.invoice_id}, not {invoice.id}.",
                credit_note=note.id,
            )
        void = note.status == CreditNoteStatus.VOID
        effect = "; ".join(f"{text[key]}: {fmt.money(amount)}" for key, amount in _outcomes(note))
        refs.append(
            CreditNoteRefView(
                number=note.number,
                date=fmt.date(note.created_at),
                amount=fmt.money(note.total),
                effect=text["status_void"] if void else effect,
                void=void,
            )
        )
    return tuple(refs)


def _tax_total(amount: int, tax: _TaxColumn, fmt: Formatter, *, computed: bool) -> Row:
    """The tax row of the totals, printed even when the tax is zero."""
    return Row(tax.name, fmt.money(amount) if computed else fmt.labels["tax_pending"])


def invoice_view(
    invoice: Invoice,
    seller: SellerDetails,
    *,
    locale: str = "en_US",
    timezone: str = "UTC",
    labels: Mapping[str, str] | None = None,
    buyer: Party | None = None,
    credit_notes: Sequence[CreditNote] = (),
) -> DocumentView:
    """The localized view of an invoice (any status; drafts print without a number).

    ``credit_notes`` are the credit notes issued against the invoice: each is listed with
    where its money went (refund, customer balance ...).

    :raises ValidationError: a credit note belongs to another invoice.
    """
    fmt = Formatter(locale, invoice.currency, timezone, labels)
    text = fmt.labels
    issued = invoice.finalized_at or invoice.created_at
    meta = [Row(text["invoice_number"], invoice.number or text["status_draft"])]
    meta.append(Row(text["date_of_issue"], fmt.date(issued)))
    if invoice.due_date is not None:
        meta.append(Row(text["due_date"], fmt.date(invoice.due_date)))
    if invoice.paid_at is not None:
        meta.append(Row(text["date_paid"], fmt.date(invoice.paid_at)))
    coupons = {c.id: c.name or c.id for c in invoice.coupons}
    tax = _TaxColumn([line.tax_amounts for line in invoice.lines], fmt)
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
                tax_rate=tax.cell(line.tax_amounts),
            )
        )
    totals = [Row(text["subtotal"], fmt.money(invoice.subtotal))]
    if invoice.total_discount:
        totals.append(Row(text["total_discount"], fmt.money(-invoice.total_discount)))
    if tax.taxes or invoice.total_discount:
        totals.append(Row(text["total_excluding_tax"], fmt.money(invoice.total_excluding_tax)))
    computed = invoice.tax_computed or not invoice.lines
    totals.append(_tax_total(invoice.tax, tax, fmt, computed=computed))
    totals.append(Row(text["total"], fmt.money(invoice.total), strong=True))
    if invoice.applied_balance:
        totals.append(Row(text["applied_balance"], fmt.money(-invoice.applied_balance)))
    if invoice.credited_to_balance:  # a negative total: owed to the customer, not refunded
        totals.append(Row(text["credited_to_balance"], fmt.money(invoice.credited_to_balance)))
    if invoice.pre_payment_credit_notes_amount:
        totals.append(
            Row(text["credit_notes"], fmt.money(-invoice.pre_payment_credit_notes_amount))
        )
    if invoice.amount_paid:
        totals.append(Row(text["amount_paid"], fmt.money(invoice.amount_paid)))
    due_label = "amount_remaining" if invoice.amount_paid else "amount_due"
    totals.append(Row(text[due_label], fmt.money(invoice.amount_remaining), strong=True))
    notes = legal_notes(invoice.tax_notes, tax.taxes, fmt)
    if invoice.post_payment_credit_notes_amount and not credit_notes:
        amount = fmt.money(invoice.post_payment_credit_notes_amount)
        notes.append(f"{text['credit_notes_after_payment']}: {amount}")
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
        tax=tax,
        tax_rows=tax_rows(tax.taxes, fmt),
        notes=notes,
        footer=invoice.footer,
        credit_notes=_credit_note_refs(invoice, credit_notes, fmt),
    )


def receipt_view(
    receipt: Receipt,
    seller: SellerDetails,
    *,
    locale: str = "en_US",
    timezone: str = "UTC",
    labels: Mapping[str, str] | None = None,
    invoice: Invoice | None = None,
) -> DocumentView:
    """The localized view of a payment receipt.

    With the paid ``invoice`` the receipt names its tax and shows the tax included per
    rate, and each line's rate; without it, the tax total under the generic name.
    """
    fmt = Formatter(locale, receipt.currency, timezone, labels)
    text = fmt.labels
    meta = [Row(text["receipt_number"], receipt.number)]
    if receipt.invoice_number:
        meta.append(Row(text["invoice_reference"], receipt.invoice_number))
    meta.append(Row(text["date_paid"], fmt.date(receipt.paid_at)))
    if receipt.payment_method:
        meta.append(Row(text["payment_method"], receipt.payment_method))
    per_line: list[Sequence[LineTaxAmount]] = []
    if invoice is not None and len(invoice.lines) == len(receipt.lines):
        per_line = [line.tax_amounts for line in invoice.lines]  # receipt lines mirror these
    tax = _TaxColumn(per_line, fmt)
    totals = []
    if receipt.invoice_total is not None:
        totals.append(Row(text["total"], fmt.money(receipt.invoice_total)))
    taxes = [t for line in invoice.lines for t in line.tax_amounts] if invoice else []
    included = text["tax_included"]
    groups = tax_groups(taxes, fmt, inclusive_note=False)
    totals.extend(Row(included.replace("{tax}", label), fmt.money(a)) for label, _, a in groups)
    if not groups:
        totals.append(Row(text["tax_included_generic"], fmt.money(receipt.tax)))
    totals.append(Row(text["amount_paid"], fmt.money(receipt.amount_paid), strong=True))
    if receipt.amount_remaining:
        totals.append(Row(text["amount_remaining"], fmt.money(receipt.amount_remaining)))
    lines = [
        _line_view(
            fmt,
            line.description,
            line.amount,
            quantity=line.quantity,
            tax_rate=tax.cell(per_line[index]) if per_line else "",
        )
        for index, line in enumerate(receipt.lines)
    ]
    return _document_view(
        "receipt",
        fmt,
        seller,
        _customer_snapshot(receipt),
        number=receipt.number,
        status=None,
        meta=meta,
        lines=lines,
        totals=totals,
        tax=tax,
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
    fmt = Formatter(locale, note.currency, timezone, labels)
    text = fmt.labels
    meta = [Row(text["credit_note_number"], note.number)]
    if note.invoice_number:
        meta.append(Row(text["invoice_reference"], note.invoice_number))
    meta.append(Row(text["date_of_issue"], fmt.date(note.created_at)))
    if note.reason is not None:
        meta.append(Row(text["reason"], text[f"reason_{note.reason.value}"]))
    tax = _TaxColumn([line.tax_amounts for line in note.lines], fmt)
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
                tax_rate=tax.cell(line.tax_amounts),
            )
        )
    totals = [
        Row(text["subtotal"], fmt.money(note.subtotal)),
        _tax_total(note.tax, tax, fmt, computed=True),
        Row(text["total"], fmt.money(note.total), strong=True),
    ]
    totals.extend(Row(text[key], fmt.money(amount)) for key, amount in _outcomes(note))
    notes = legal_notes((), tax.taxes, fmt)
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
        tax=tax,
        tax_rows=tax_rows(tax.taxes, fmt),
        notes=notes,
    )


__all__ = [
    "CreditNoteRefView",
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
