"""VAT / GST engines for single-rate countries: UK, Norway, Switzerland, Australia, Japan.

One :class:`NationalTaxEngine` per country, configured by a :class:`NationalSpec`. The rules:

1. Exempt customer -> zero lines, reason ``exempt``.
2. Business buyer (a valid tax id of the country's type): a seller established in the same
   country charges tax; a foreign seller does not, and the buyer accounts for it (reverse
   charge / acquisition tax), invoice note "Reverse charge" (Switzerland: only when the
   foreign seller is not registered there). ``tax_exempt="reverse"`` without a tax id: review.
3. Consumer: tax at the country's standard rate if the seller is registered there. An
   unregistered seller gets zero lines with reason ``not_registered`` only while its recorded
   ``sales_to_date`` is at or under the registration threshold that applies to it (dated, and
   different for foreign sellers: the UK has none for them); over it, with no figure recorded,
   or with no threshold, the result asks for review.

Not covered: reduced rates by product (none apply to e-services in these countries), location
evidence rules outside the EU, and special schemes (e.g. UK flat-rate scheme).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from lms_billing.domain.tax import TaxReason, TaxRequest, TaxResult
from lms_billing.tax._common import (
    REVERSE_CHARGE_NOTE,
    ZERO,
    RegistrationThreshold,
    find_tax_id,
    finish,
    not_registered,
    reverse_charge_without_id,
    review,
    self_accounts,
    threshold_on,
    uniform,
)
from lms_billing.tax.rates import RateTable, rate_period
from lms_billing.tax.rates.national import NATIONAL_RATES
from lms_billing.tax.vat_ids import validate_tax_id


@dataclass(frozen=True, slots=True)
class NationalSpec:
    """How one country taxes cross-border digital services.

    ``thresholds`` are the registration thresholds for sellers established in the country,
    effective-dated, in minor units of ``threshold_currency``; ``non_established_thresholds``
    those for foreign sellers (``None``: the same). A seller's
    :class:`~lms_billing.domain.tax.TaxRegistration` may override either.
    ``reverse_charge_unless_registered``: a foreign seller registered in the country charges
    tax to business buyers too (Switzerland's acquisition tax only applies to unregistered
    foreign suppliers).
    """

    engine_name: str
    country: str
    tax_type: str
    tax_id_types: tuple[str, ...]
    thresholds: tuple[RegistrationThreshold, ...]
    threshold_currency: str
    non_established_thresholds: tuple[RegistrationThreshold, ...] | None = None
    reverse_charge_unless_registered: bool = False

    def threshold(self, *, established: bool, on: date) -> int | None:
        """The threshold for a seller on ``on`` (``None``: unknown before the first entry)."""
        table = self.thresholds
        if not established and self.non_established_thresholds is not None:
            table = self.non_established_thresholds
        return threshold_on(table, on)


def _t(start: date, amount: int) -> RegistrationThreshold:
    return RegistrationThreshold(start, amount)


# Thresholds in minor units (sources in rates/national.py). UK: GBP 85,000 from 2017-04-01,
# GBP 90,000 from 2024-04-01, for UK-established sellers only; non-established taxable persons
# must register from their first UK supply (no threshold since 2012-12-01). Norway: NOK 50,000
# (VOEC for foreign sellers). Switzerland: CHF 100,000 of worldwide turnover (since 2018-01-01,
# for foreign suppliers too). Australia: AUD 75,000 of GST turnover connected with Australia
# (offshore digital services taxed since 2017-07-01). Japan: JPY 10,000,000 of taxable sales in
# the base period (JPY has no minor unit).
UK_VAT = NationalSpec(
    "uk_vat",
    "GB",
    "vat",
    ("gb_vat",),
    (_t(date(2017, 4, 1), 8_500_000), _t(date(2024, 4, 1), 9_000_000)),
    "GBP",
    non_established_thresholds=(_t(date(2012, 12, 1), 0),),
)
NO_VAT = NationalSpec("no_vat", "NO", "vat", ("no_vat",), (_t(date(2021, 1, 1), 5_000_000),), "NOK")
CH_VAT = NationalSpec(
    "ch_vat",
    "CH",
    "vat",
    ("ch_vat",),
    (_t(date(2018, 1, 1), 10_000_000),),
    "CHF",
    reverse_charge_unless_registered=True,
)
AU_GST = NationalSpec("au_gst", "AU", "gst", ("au_abn",), (_t(date(2017, 7, 1), 7_500_000),), "AUD")
JP_CT = NationalSpec(
    "jp_ct", "JP", "jct", ("jp_cn", "jp_trn"), (_t(date(2019, 10, 1), 10_000_000),), "JPY"
)

NATIONAL_SPECS: tuple[NationalSpec, ...] = (UK_VAT, NO_VAT, CH_VAT, AU_GST, JP_CT)


class NationalTaxEngine:
    """Tax for customers in ``spec.country`` (see the module docstring)."""

    def __init__(self, spec: NationalSpec, *, rates: RateTable = NATIONAL_RATES) -> None:
        self.spec = spec
        self.name = spec.engine_name
        self._rates = rates

    def handles(self, request: TaxRequest) -> bool:
        """Customers located in this engine's country."""
        return request.customer.country == self.spec.country

    def calculate(self, request: TaxRequest) -> TaxResult:
        """Tax lines for a customer in this engine's country."""
        spec = self.spec
        country = spec.country
        day = request.transaction_date
        period = rate_period(self._rates, country, day)
        if request.customer.is_exempt(country, day):
            return finish(
                self.name, request, uniform(request, country, spec.tax_type, ZERO, TaxReason.EXEMPT)
            )
        seller = request.seller
        foreign = seller.country != country
        tax_id = find_tax_id(request.customer, spec.tax_id_types)
        if tax_id is not None:
            validate_tax_id(tax_id.type, tax_id.value)  # raises InvalidTaxIdError
        elif self_accounts(request.customer) and foreign:
            return review(self.name, (reverse_charge_without_id(country, spec.tax_id_types),))
        registered = seller.is_registered(country, request.transaction_date)
        charges_business = spec.reverse_charge_unless_registered and registered
        if tax_id is not None and foreign and not charges_business:
            decisions = uniform(
                request, country, spec.tax_type, ZERO, TaxReason.REVERSE_CHARGE, reverse_charge=True
            )
            return finish(self.name, request, decisions, notes=(REVERSE_CHARGE_NOTE,))
        if not registered:
            threshold = spec.threshold(established=not foreign, on=day)
            return not_registered(
                self.name, request, country, spec.tax_type, threshold, spec.threshold_currency
            )
        return finish(
            self.name,
            request,
            uniform(request, country, spec.tax_type, period.standard, TaxReason.STANDARD_RATED),
        )


def national_engines() -> list[NationalTaxEngine]:
    """One engine per built-in country spec: uk_vat, no_vat, ch_vat, au_gst, jp_ct."""
    return [NationalTaxEngine(spec) for spec in NATIONAL_SPECS]


__all__ = [
    "AU_GST",
    "CH_VAT",
    "JP_CT",
    "NATIONAL_SPECS",
    "NO_VAT",
    "UK_VAT",
    "NationalSpec",
    "NationalTaxEngine",
    "RegistrationThreshold",
    "national_engines",
]
