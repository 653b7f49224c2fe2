"""Tax reports: totals per period and jurisdiction, and their CSV export.

Feed it the tax lines of finalized invoices (and credit notes, negated) as
:class:`TaxedDocument` s. Each row totals one period, jurisdiction, tax type, rate and
currency: taxable sales and tax collected, reverse-charged sales (the buyer accounts for the
tax; an OSS return leaves them out, the EC Sales List includes them) and zero-tax sales
(exempt, not registered, no nexus, not taxable). Amounts are never converted: an OSS return in
EUR needs non-EUR rows converted at the ECB rate of the period's last day, by the caller.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from lms_billing.domain.tax import TaxLine, TaxReason
from lms_billing.money import CurrencyCode, SignedMinorUnits, from_minor_units


class ReportPeriod(StrEnum):
    """How dates are bucketed: OSS returns are quarterly, many national returns monthly."""

    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class TaxedDocument(BaseModel):
    """An invoice or credit note as the report sees it."""

    model_config = ConfigDict(frozen=True)

    document_id: str = Field(min_length=1)
    issued_on: date
    currency: CurrencyCode
    lines: tuple[TaxLine, ...]
    credit_note: bool = False


class TaxReportRow(BaseModel):
    """Totals for one period, jurisdiction, tax type, rate and currency (minor units)."""

    model_config = ConfigDict(frozen=True)

    period: str
    jurisdiction: str
    tax_type: str
    rate: Decimal
    currency: str
    taxable_sales: SignedMinorUnits = 0
    tax_collected: SignedMinorUnits = 0
    reverse_charged_sales: SignedMinorUnits = 0
    zero_tax_sales: SignedMinorUnits = 0
    documents: int = 0


_ZERO_TAX_REASONS = frozenset(
    {
        TaxReason.EXEMPT,
        TaxReason.NOT_REGISTERED,
        TaxReason.NO_NEXUS,
        TaxReason.NOT_TAXABLE,
        TaxReason.OUTSIDE_SCOPE,
    }
)


def period_label(day: date, period: ReportPeriod) -> str:
    """``2025-07``, ``2025-Q3`` or ``2025`` for ``day``."""
    if period == ReportPeriod.MONTH:
        return f"{day.year}-{day.month:02d}"
    if period == ReportPeriod.QUARTER:
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return str(day.year)


def build_tax_report(
    documents: Iterable[TaxedDocument],
    *,
    period: ReportPeriod = ReportPeriod.QUARTER,
    start: date | None = None,
    end: date | None = None,
) -> tuple[TaxReportRow, ...]:
    """Total the documents issued in ``[start, end]`` (inclusive; open when ``None``).

    Rows are sorted by period, jurisdiction, tax type, currency and rate.
    """
    totals: dict[tuple[str, str, str, str, Decimal], list[int]] = {}
    seen: dict[tuple[str, str, str, str, Decimal], set[str]] = {}
    for doc in documents:
        if (start is not None and doc.issued_on < start) or (
            end is not None and doc.issued_on > end
        ):
            continue
        sign = -1 if doc.credit_note else 1
        label = period_label(doc.issued_on, period)
        for line in doc.lines:
            key = (label, line.jurisdiction, line.tax_type, doc.currency, line.rate.normalize())
            acc = totals.setdefault(key, [0, 0, 0, 0])
            seen.setdefault(key, set()).add(doc.document_id)
            if line.reverse_charge:
                acc[2] += sign * line.taxable_amount
            elif line.reason in _ZERO_TAX_REASONS:
                acc[3] += sign * line.taxable_amount
            else:
                acc[0] += sign * line.taxable_amount
                acc[1] += sign * line.tax_amount
    return tuple(
        TaxReportRow(
            period=key[0],
            jurisdiction=key[1],
            tax_type=key[2],
            currency=key[3],
            rate=key[4],
            taxable_sales=acc[0],
            tax_collected=acc[1],
            reverse_charged_sales=acc[2],
            zero_tax_sales=acc[3],
            documents=len(seen[key]),
        )
        for key, acc in sorted(totals.items())
    )


CSV_COLUMNS = (
    "period",
    "jurisdiction",
    "tax_type",
    "rate_percent",
    "currency",
    "taxable_sales",
    "tax_collected",
    "reverse_charged_sales",
    "zero_tax_sales",
    "documents",
)


def _amount(units: int, currency: str) -> str:
    return str(from_minor_units(units, currency, allow_negative=True).amount)


def tax_report_csv(rows: Iterable[TaxReportRow]) -> str:
    """CSV text with a header; amounts in major units with the currency's decimals."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        percent = (row.rate * 100).normalize()
        writer.writerow(
            [
                row.period,
                row.jurisdiction,
                row.tax_type,
                f"{percent:f}",
                row.currency,
                _amount(row.taxable_sales, row.currency),
                _amount(row.tax_collected, row.currency),
                _amount(row.reverse_charged_sales, row.currency),
                _amount(row.zero_tax_sales, row.currency),
                row.documents,
            ]
        )
    return out.getvalue()


__all__ = [
    "CSV_COLUMNS",
    "ReportPeriod",
    "TaxReportRow",
    "TaxedDocument",
    "build_tax_report",
    "period_label",
    "tax_report_csv",
]
