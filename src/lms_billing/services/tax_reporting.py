"""Tax reports from stored documents: what an accountant files an OSS or VAT return from.

Finalized invoices (``open``, ``paid``, ``uncollectible``) count on the day they were
finalized, credit notes on the day they were issued, both in the seller's time zone
(``settings.timezone``). Voided invoices never count: voiding says the invoice should not have
been issued, so it carries no tax (correct an issued sale with a credit note instead). Lines
with negative amounts (proration credits) reduce the totals exactly as credit notes do.

A credit note for an invoice finalized in an earlier period is reported as a correction of that
period (its own rows, ``corrects_period``). Rows are classified by scheme (OSS, domestic ...)
with the seller's tax profile from ``settings.seller``; EUR columns need an
:class:`~lms_billing.tax.report.EurRateSource` (e.g. ``FxEurRates(billing_fx_sources)``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from lms_billing.domain.invoice_models import LineTaxAmount
from lms_billing.domain.invoices import Invoice, InvoiceStatus
from lms_billing.domain.tax import TaxLine
from lms_billing.errors import ValidationError
from lms_billing.services._context import ServiceContext
from lms_billing.storage.base import every
from lms_billing.tax.report import (
    EurRateSource,
    ReportPeriod,
    TaxedDocument,
    TaxReportRow,
    build_tax_report,
    tax_report_csv,
)

REPORTED_STATUSES = frozenset({InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE})


def _tax_lines(line_id: str, taxes: Sequence[LineTaxAmount], *, negative: bool) -> list[TaxLine]:
    """The report's (non-negative) tax lines for one side: charges, or credits mirrored."""
    lines = []
    for tax in taxes:
        if (tax.taxable_amount < 0 or tax.amount < 0) != negative:
            continue
        lines.append(
            TaxLine(
                line_id=line_id,
                jurisdiction=tax.jurisdiction,
                tax_type=tax.tax_type,
                rate=tax.rate,
                taxable_amount=abs(tax.taxable_amount),
                tax_amount=abs(tax.amount),
                reverse_charge=tax.reverse_charge,
                reason=tax.reason or "taxed",
                inclusive=tax.inclusive,
            )
        )
    return lines


def invoice_documents(invoice: Invoice, issued_on: date) -> list[TaxedDocument]:
    """An invoice as report documents: its charges, and its credit lines as a credit."""
    documents = []
    for negative in (False, True):
        lines = [
            tax_line
            for line in invoice.lines
            for tax_line in _tax_lines(line.id, line.tax_amounts, negative=negative)
        ]
        if lines:
            documents.append(
                TaxedDocument(
                    document_id=invoice.number or invoice.id,
                    issued_on=issued_on,
                    currency=invoice.currency,
                    lines=tuple(lines),
                    credit_note=negative,
                )
            )
    return documents


class TaxReportService:
    """``billing.tax_reports``: totals per period and jurisdiction, and their CSV export."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def _local_date(self, moment: datetime) -> date:
        return moment.astimezone(ZoneInfo(self._ctx.settings.timezone)).date()

    def documents(self, start: date, end: date) -> Iterator[TaxedDocument]:
        """Every taxed document issued from ``start`` to ``end`` (inclusive), page by page."""
        if end < start:
            raise ValidationError("The report's end is before its start.", start=start, end=end)
        with self._ctx.storage.unit_of_work() as uow:
            for invoice in every(uow.invoices.list):
                if invoice.status in REPORTED_STATUSES and invoice.finalized_at is not None:
                    issued_on = self._local_date(invoice.finalized_at)
                    if start <= issued_on <= end:
                        yield from invoice_documents(invoice, issued_on)
            for note in every(uow.credit_notes.list):
                issued_on = self._local_date(note.created_at)
                if not start <= issued_on <= end:
                    continue
                corrected = uow.invoices.get(note.invoice_id)
                lines = [
                    tax_line
                    for line in note.lines
                    for tax_line in _tax_lines(
                        line.invoice_line_id, line.tax_amounts, negative=False
                    )
                ]
                if lines:
                    yield TaxedDocument(
                        document_id=note.number,
                        issued_on=issued_on,
                        currency=note.currency,
                        lines=tuple(lines),
                        credit_note=True,
                        corrects_document_id=corrected.number or corrected.id,
                        corrects_issued_on=(
                            None
                            if corrected.finalized_at is None
                            else self._local_date(corrected.finalized_at)
                        ),
                    )

    def report(
        self,
        start: date,
        end: date,
        *,
        period: ReportPeriod | str = ReportPeriod.QUARTER,
        eur_rates: EurRateSource | None = None,
    ) -> tuple[TaxReportRow, ...]:
        """Rows per period, scheme, jurisdiction, tax type, rate and currency (minor units).

        :param eur_rates: converts non-EUR rows to EUR at their period's last-day rate;
            without it those rows' EUR columns stay empty (``eur_conversion="missing"``).
        """
        seller = self._ctx.settings.seller
        return build_tax_report(
            self.documents(start, end),
            period=ReportPeriod(period),
            start=start,
            end=end,
            seller=None if seller is None else seller.tax_profile,
            eur_rates=eur_rates,
        )

    def report_csv(
        self,
        start: date,
        end: date,
        *,
        period: ReportPeriod | str = ReportPeriod.QUARTER,
        eur_rates: EurRateSource | None = None,
    ) -> str:
        """The report as CSV (amounts in major units), ready for a spreadsheet."""
        return tax_report_csv(self.report(start, end, period=period, eur_rates=eur_rates))


__all__ = ["REPORTED_STATUSES", "TaxReportService", "invoice_documents"]
