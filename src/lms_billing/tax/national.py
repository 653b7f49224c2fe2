"""VAT / GST engines for single-rate countries: UK, Norway, Switzerland, Australia, Japan.

One :class:`NationalTaxEngine` per country, configured by a :class:`NationalSpec`. The rules:

1. Exempt customer -> zero lines, reason ``exempt``.
2. Business buyer (a valid tax id of the country's type, or ``tax_exempt="reverse"``):
   a seller established in the same country charges tax; a foreign seller does not, and the
   buyer accounts for it (reverse charge / acquisition tax), invoice note "Reverse charge".
3. Consumer: tax at the country's standard rate if the seller is registered there; otherwise
   zero lines with reason ``not_registered``, or a review when the seller's recorded sales are
   above the registration threshold.

Not covered: reduced rates by product (none apply to e-services in these countries), location
evidence rules outside the EU, and special schemes (e.g. UK flat-rate scheme).
"""

from __future__ import annotations

from dataclasses import dataclass

from lms_billing.domain.tax import TaxReason, TaxRequest, TaxResult
from lms_billing.tax._common import (
    REVERSE_CHARGE_NOTE,
    ZERO,
    find_tax_id,
    finish,
    not_registered,
    self_accounts,
    uniform,
)
from lms_billing.tax.rates import RateTable, rate_period
from lms_billing.tax.rates.national import NATIONAL_RATES
from lms_billing.tax.vat_ids import validate_tax_id


@dataclass(frozen=True, slots=True)
class NationalSpec:
    """How one country taxes cross-border digital services.

    ``threshold`` is the default registration threshold in minor units of
    ``threshold_currency``; a seller's :class:`~lms_billing.domain.tax.TaxRegistration`
    may override it.
    """

    engine_name: str
    country: str
    tax_type: str
    tax_id_types: tuple[str, ...]
    threshold: int | None
    threshold_currency: str


# Thresholds in minor units: GBP 90,000 (UK-established sellers; non-established sellers have
# no threshold), NOK 50,000 (VOEC), CHF 100,000 (worldwide turnover), AUD 75,000,
# JPY 10,000,000 (JPY has no minor unit).
UK_VAT = NationalSpec("uk_vat", "GB", "vat", ("gb_vat",), 9_000_000, "GBP")
NO_VAT = NationalSpec("no_vat", "NO", "vat", ("no_vat",), 5_000_000, "NOK")
CH_VAT = NationalSpec("ch_vat", "CH", "vat", ("ch_vat",), 10_000_000, "CHF")
AU_GST = NationalSpec("au_gst", "AU", "gst", ("au_abn",), 7_500_000, "AUD")
JP_CT = NationalSpec("jp_ct", "JP", "jct", ("jp_cn", "jp_trn"), 10_000_000, "JPY")

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
        period = rate_period(self._rates, country, request.transaction_date)
        if request.customer.is_exempt(country, request.transaction_date):
            return finish(
                self.name, request, uniform(request, country, spec.tax_type, ZERO, TaxReason.EXEMPT)
            )
        tax_id = find_tax_id(request.customer, spec.tax_id_types)
        if tax_id is not None:
            validate_tax_id(tax_id.type, tax_id.value)  # raises InvalidTaxIdError
        business = tax_id is not None or self_accounts(request.customer)
        if business and request.seller.country != country:
            decisions = uniform(
                request, country, spec.tax_type, ZERO, TaxReason.REVERSE_CHARGE, reverse_charge=True
            )
            return finish(self.name, request, decisions, notes=(REVERSE_CHARGE_NOTE,))
        if not request.seller.is_registered(country):
            return not_registered(self.name, request, country, spec.tax_type, spec.threshold)
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
    "national_engines",
]
