"""Tax reports: totals per period, scheme and jurisdiction, and their CSV export.

Feed it the tax lines of finalized invoices (and credit notes, negated) as
:class:`TaxedDocument` s. Each row totals one period, scheme, jurisdiction, tax type, rate type,
rate and currency: taxable sales and tax collected, reverse-charged sales (the buyer accounts
for the tax; an OSS return leaves them out, the EC Sales List includes them) and zero-tax
sales (exempt, not registered, no nexus, not taxable).

What makes it fileable as an OSS return:

- ``scheme`` tells which return a row belongs on (:data:`SCHEMES`): ``oss`` (One-Stop Shop),
  ``domestic`` (the seller's own member state), ``local`` (a member state where the seller is
  registered directly, not through OSS), ``reverse_charge``, ``non_eu`` (UK VAT, US sales tax
  ...). Without the seller's :class:`~lms_billing.domain.tax.SellerTaxProfile` an EU row
  cannot be told apart and says ``eu_unclassified``.
- ``rate_type``: ``standard`` / ``reduced`` / ``zero`` (EU rows from the rate tables on the
  supply date; other rows from the line's reason).
- EUR columns (OSS returns are in EUR): with an :class:`EurRateSource`, each row is converted at
  the rate the source gives for the last day of its period (VAT Directive Art. 366, and the same
  rule for the Union scheme: the ECB rate of that day, or of the next day it publishes one; the
  source's job). Without a source, a
  document's recorded ``eur_rate`` is used when every document of the row has one. Otherwise the
  EUR columns stay empty and ``eur_conversion`` says ``missing``: no rate is ever invented.
- Corrections: a credit note for an invoice of an earlier period is not netted into the period
  it is issued in. It gets its own row with ``corrects_period`` set to the original period, in
  the original member state, rate and rate type, as OSS returns require (corrections of earlier
  returns are declared in a later return against the period and member state corrected).

Rounding: EUR amounts are rounded half-up to the cent once per row (the only rounding point).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from lms_billing.domain.tax import EU_MEMBER_STATES, SellerTaxProfile, TaxLine, TaxReason
from lms_billing.errors import TaxRateUnavailableError
from lms_billing.money import DECIMAL_CONTEXT, CurrencyCode, SignedMinorUnits, from_minor_units
from lms_billing.ports import FxRates
from lms_billing.tax.rates import RateTable, rate_period
from lms_billing.tax.rates.eu import EU_VAT_RATES

OSS_REGISTRATION = "EU"
EUR = "EUR"
_CENT = Decimal("0.01")


class ReportPeriod(StrEnum):
    """How dates are bucketed: OSS returns are quarterly, many national returns monthly."""

    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class TaxScheme(StrEnum):
    """Which return a row is filed on."""

    OSS = "oss"
    DOMESTIC = "domestic"
    LOCAL = "local"
    REVERSE_CHARGE = "reverse_charge"
    NON_EU = "non_eu"
    EU_UNCLASSIFIED = "eu_unclassified"


SCHEMES: tuple[str, ...] = tuple(scheme.value for scheme in TaxScheme)


class EurConversion(StrEnum):
    """How a row's EUR columns were obtained."""

    NATIVE = "native"  # the row is in EUR
    PERIOD_END_RATE = "period_end_rate"  # the EurRateSource's rate for the period's last day
    RECORDED = "recorded"  # every document's recorded eur_rate
    MISSING = "missing"  # no rate: EUR columns left empty


class EurRateSource(Protocol):
    """EUR per one unit of ``currency`` for a day (``None`` when the source has none).

    For an OSS return that is the ECB reference rate published for ``on``, or, when the ECB
    published none that day, for the next day it did (VAT Directive Art. 366; the Union
    scheme has the same rule).
    """

    def eur_rate(self, currency: str, on: date) -> Decimal | None: ...


@dataclass(frozen=True, slots=True)
class FxEurRates:
    """An :class:`EurRateSource` over the host's ``FxRates`` plugins (first answer wins).

    Each source is asked for ``currency -> EUR`` at the end of ``on`` (UTC); it is the host's
    choice to register a source that answers with the ECB's rates.
    """

    sources: Sequence[FxRates]

    def eur_rate(self, currency: str, on: date) -> Decimal | None:
        at = datetime.combine(on, time.max, tzinfo=UTC)
        for source in self.sources:
            rate = source.get_rate(currency, EUR, at)
            if rate is not None and (rate.base, rate.quote) == (currency, EUR):
                return rate.rate
        return None


class TaxedDocument(BaseModel):
    """An invoice or credit note as the report sees it.

    ``corrects_issued_on``: for a credit note, the day the invoice it corrects was issued, so
    a correction of an earlier period is reported against that period. ``eur_rate``: EUR per
    one unit of ``currency`` recorded when the document was issued (used only without an
    :class:`EurRateSource`).
    """

    model_config = ConfigDict(frozen=True)

    document_id: str = Field(min_length=1)
    issued_on: date
    currency: CurrencyCode
    lines: tuple[TaxLine, ...]
    credit_note: bool = False
    corrects_document_id: str | None = None
    corrects_issued_on: date | None = None
    eur_rate: Decimal | None = Field(default=None, gt=0)


class TaxReportRow(BaseModel):
    """Totals for one period, scheme, jurisdiction, tax type, rate and currency (minor units;
    the ``eur_`` amounts are EUR in major units, ``None`` when no rate was available)."""

    model_config = ConfigDict(frozen=True)

    period: str
    jurisdiction: str
    tax_type: str
    rate: Decimal
    currency: str
    scheme: str = TaxScheme.EU_UNCLASSIFIED
    rate_type: str = ""
    corrects_period: str | None = None
    taxable_sales: SignedMinorUnits = 0
    tax_collected: SignedMinorUnits = 0
    reverse_charged_sales: SignedMinorUnits = 0
    zero_tax_sales: SignedMinorUnits = 0
    documents: int = 0
    eur_conversion: str = EurConversion.MISSING
    eur_rate: Decimal | None = None
    eur_taxable_sales: Decimal | None = None
    eur_tax_collected: Decimal | None = None
    eur_reverse_charged_sales: Decimal | None = None
    eur_zero_tax_sales: Decimal | None = None


_ZERO_TAX_REASONS = frozenset(
    {
        TaxReason.EXEMPT,
        TaxReason.NOT_REGISTERED,
        TaxReason.NO_NEXUS,
        TaxReason.NOT_TAXABLE,
        TaxReason.OUTSIDE_SCOPE,
        # Stripe Tax reasons kept as Stripe names them:
        "product_exempt",
        "product_exempt_holiday",
    }
)
_REDUCED_REASONS = frozenset({TaxReason.REDUCED_RATED, "portion_reduced_rated"})


def period_label(day: date, period: ReportPeriod) -> str:
    """``2025-07``, ``2025-Q3`` or ``2025`` for ``day``."""
    if period == ReportPeriod.MONTH:
        return f"{day.year}-{day.month:02d}"
    if period == ReportPeriod.QUARTER:
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    return str(day.year)


def period_end(day: date, period: ReportPeriod) -> date:
    """The last day of the period containing ``day``."""
    if period == ReportPeriod.YEAR:
        return date(day.year, 12, 31)
    last_month = day.month if period == ReportPeriod.MONTH else ((day.month - 1) // 3 + 1) * 3
    first_of_next = date(day.year + last_month // 12, last_month % 12 + 1, 1)
    return first_of_next - timedelta(days=1)


def tax_scheme(
    line: TaxLine, seller: SellerTaxProfile | None, on: date | None = None
) -> TaxScheme:
    """The return ``line`` is filed on (see :class:`TaxScheme`), under the registrations in
    force on ``on``, the day of supply (``None``: regardless of their dates)."""
    if line.reverse_charge:
        return TaxScheme.REVERSE_CHARGE
    country = line.jurisdiction
    if country not in EU_MEMBER_STATES:
        return TaxScheme.NON_EU
    if line.reason == TaxReason.HOME_COUNTRY_THRESHOLD:
        return TaxScheme.DOMESTIC
    if seller is None:
        return TaxScheme.EU_UNCLASSIFIED
    if country == seller.country:
        return TaxScheme.DOMESTIC
    # Registered for OSS, every B2C supply of these services to another member state goes
    # through it, even where the seller also holds a local registration.
    if seller.is_registered(OSS_REGISTRATION, on):
        return TaxScheme.OSS
    return TaxScheme.LOCAL


def rate_type(line: TaxLine, on: date, rates: RateTable = EU_VAT_RATES) -> str:
    """``standard``, ``reduced`` or ``zero`` for ``line`` supplied on ``on``."""
    if line.rate == 0:
        return "zero"
    if line.jurisdiction in rates:
        try:
            period = rate_period(rates, line.jurisdiction, on)
        except TaxRateUnavailableError:  # a date before the table: say so, do not guess
            return "unknown"
        if line.rate == period.standard:
            return "standard"
        return "reduced" if line.rate in period.reduced else "unknown"
    return "reduced" if line.reason in _REDUCED_REASONS else "standard"


_Key = tuple[str, str, str, str, str, str, str, Decimal]


@dataclass(slots=True)
class _Acc:
    amounts: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    documents: set[str] = field(default_factory=set)
    recorded: list[tuple[list[int], Decimal | None]] = field(default_factory=list)
    rate_day: date | None = None


def build_tax_report(
    documents: Iterable[TaxedDocument],
    *,
    period: ReportPeriod = ReportPeriod.QUARTER,
    start: date | None = None,
    end: date | None = None,
    seller: SellerTaxProfile | None = None,
    eur_rates: EurRateSource | None = None,
) -> tuple[TaxReportRow, ...]:
    """Total the documents issued in ``[start, end]`` (inclusive; open when ``None``).

    :param seller: the seller's profile, to tell OSS from domestic and local rows.
    :param eur_rates: converts rows to EUR at their period's last-day rate.

    Rows are sorted by period, correction period (regular rows first), scheme, jurisdiction,
    tax type, currency, rate type and rate.
    """
    totals: dict[_Key, _Acc] = {}
    for doc in documents:
        if (start is not None and doc.issued_on < start) or (
            end is not None and doc.issued_on > end
        ):
            continue
        sign = -1 if doc.credit_note else 1
        label = period_label(doc.issued_on, period)
        supplied_on = doc.issued_on
        corrects = ""
        if doc.credit_note and doc.corrects_issued_on is not None:
            original = period_label(doc.corrects_issued_on, period)
            supplied_on = doc.corrects_issued_on
            if original != label:
                corrects = original
        per_key: dict[_Key, list[int]] = {}
        for line in doc.lines:
            key: _Key = (
                label,
                corrects,
                tax_scheme(line, seller, supplied_on),
                line.jurisdiction,
                line.tax_type,
                doc.currency,
                rate_type(line, supplied_on),
                line.rate.normalize(),
            )
            acc = totals.setdefault(key, _Acc())
            acc.documents.add(doc.document_id)
            acc.rate_day = period_end(supplied_on, period)
            amounts = per_key.setdefault(key, [0, 0, 0, 0])
            if line.reverse_charge:
                amounts[2] += sign * line.taxable_amount
            elif line.reason in _ZERO_TAX_REASONS:
                amounts[3] += sign * line.taxable_amount
            else:
                amounts[0] += sign * line.taxable_amount
                amounts[1] += sign * line.tax_amount
        for key, amounts in per_key.items():
            acc = totals[key]
            acc.amounts = [a + b for a, b in zip(acc.amounts, amounts, strict=True)]
            acc.recorded.append((amounts, doc.eur_rate))
    return tuple(_row(key, acc, eur_rates) for key, acc in sorted(totals.items()))


def _to_eur(units: int, currency: str, rate: Decimal) -> Decimal:
    major = from_minor_units(units, currency, allow_negative=True).amount
    return DECIMAL_CONTEXT.multiply(major, rate)


def _cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP, context=DECIMAL_CONTEXT)  # rounding point


def _row(key: _Key, acc: _Acc, eur_rates: EurRateSource | None) -> TaxReportRow:
    label, corrects, scheme, jurisdiction, tax_type, currency, kind, rate = key
    conversion, eur_rate, eur = EurConversion.MISSING, None, None
    if currency == EUR:
        conversion, eur_rate = EurConversion.NATIVE, Decimal(1)
    elif eur_rates is not None and acc.rate_day is not None:
        eur_rate = eur_rates.eur_rate(currency, acc.rate_day)
        if eur_rate is not None:
            conversion = EurConversion.PERIOD_END_RATE
    elif acc.recorded and all(r is not None for _, r in acc.recorded):
        conversion = EurConversion.RECORDED
        eur = [
            _cents(
                sum(
                    (_to_eur(amounts[i], currency, r) for amounts, r in acc.recorded if r),
                    Decimal(0),
                )
            )
            for i in range(4)
        ]
    if eur is None and eur_rate is not None:
        eur = [_cents(_to_eur(units, currency, eur_rate)) for units in acc.amounts]
    return TaxReportRow(
        period=label,
        corrects_period=corrects or None,
        scheme=scheme,
        jurisdiction=jurisdiction,
        tax_type=tax_type,
        currency=currency,
        rate_type=kind,
        rate=rate,
        taxable_sales=acc.amounts[0],
        tax_collected=acc.amounts[1],
        reverse_charged_sales=acc.amounts[2],
        zero_tax_sales=acc.amounts[3],
        documents=len(acc.documents),
        eur_conversion=conversion,
        eur_rate=eur_rate,
        eur_taxable_sales=None if eur is None else eur[0],
        eur_tax_collected=None if eur is None else eur[1],
        eur_reverse_charged_sales=None if eur is None else eur[2],
        eur_zero_tax_sales=None if eur is None else eur[3],
    )


CSV_COLUMNS = (
    "period",
    "corrects_period",
    "scheme",
    "jurisdiction",
    "tax_type",
    "rate_type",
    "rate_percent",
    "currency",
    "taxable_sales",
    "tax_collected",
    "reverse_charged_sales",
    "zero_tax_sales",
    "documents",
    "eur_conversion",
    "eur_rate",
    "eur_taxable_sales",
    "eur_tax_collected",
    "eur_reverse_charged_sales",
    "eur_zero_tax_sales",
)


def _amount(units: int, currency: str) -> str:
    return str(from_minor_units(units, currency, allow_negative=True).amount)


def _optional(value: Decimal | None) -> str:
    return "" if value is None else f"{value:f}"


def tax_report_csv(rows: Iterable[TaxReportRow]) -> str:
    """CSV text with a header; amounts in major units with the currency's decimals, EUR
    columns empty where no rate was available."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        percent = (row.rate * 100).normalize()
        writer.writerow(
            [
                row.period,
                row.corrects_period or "",
                row.scheme,
                row.jurisdiction,
                row.tax_type,
                row.rate_type,
                f"{percent:f}",
                row.currency,
                _amount(row.taxable_sales, row.currency),
                _amount(row.tax_collected, row.currency),
                _amount(row.reverse_charged_sales, row.currency),
                _amount(row.zero_tax_sales, row.currency),
                row.documents,
                row.eur_conversion,
                _optional(None if row.eur_rate is None else row.eur_rate.normalize()),
                _optional(row.eur_taxable_sales),
                _optional(row.eur_tax_collected),
                _optional(row.eur_reverse_charged_sales),
                _optional(row.eur_zero_tax_sales),
            ]
        )
    return out.getvalue()


__all__ = [
    "CSV_COLUMNS",
    "SCHEMES",
    "EurConversion",
    "EurRateSource",
    "FxEurRates",
    "ReportPeriod",
    "TaxReportRow",
    "TaxScheme",
    "TaxedDocument",
    "build_tax_report",
    "period_end",
    "period_label",
    "rate_type",
    "tax_report_csv",
    "tax_scheme",
]
