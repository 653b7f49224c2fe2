"""EU VAT on electronically supplied services, with the One-Stop Shop (OSS) rules.

What it decides, in order (Council Directive 2006/112/EC; see docs/tax.md):

1. Exempt customer (status or certificate) -> zero lines, reason ``exempt``.
2. B2B: the buyer has an EU VAT id (format and check digits via python-stdnum; optionally
   verified live by a :class:`~lms_billing.tax.vat_ids.VatIdValidator`, e.g. VIES).
   Buyer in another member state than the seller -> reverse charge (Art. 196), zero tax,
   invoice note "Reverse charge". Buyer in the seller's own country -> local VAT.
3. B2C: place of supply is the customer's member state (Art. 58), proven by two agreeing pieces
   of location evidence; the seller's home-country VAT applies instead under the EUR 10,000
   threshold option (Art. 59c) when the seller elected it.
4. The seller must be registered (in the destination or for OSS, jurisdiction ``"EU"``);
   otherwise zero lines with reason ``not_registered``.

Anything that cannot be decided (conflicting evidence, an id VIES rejects or cannot check)
returns ``needs_review`` with reasons and no lines, never a guessed rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from lms_billing.domain.tax import (
    EU_MEMBER_STATES,
    TaxReason,
    TaxRequest,
    TaxResult,
)
from lms_billing.errors import ConfigurationError, ProviderUnavailableError
from lms_billing.tax._common import (
    REVERSE_CHARGE_NOTE,
    ZERO,
    find_tax_id,
    finish,
    not_registered,
    review,
    self_accounts,
    uniform,
)
from lms_billing.tax.compute import TaxDecision
from lms_billing.tax.evidence import assess_location
from lms_billing.tax.rates import RatePeriod, RateTable, rate_period
from lms_billing.tax.rates.eu import EU_VAT_RATES
from lms_billing.tax.vat_ids import VatIdValidator, parse_eu_vat_id

OSS_JURISDICTION = "EU"


class EuVatEngine:
    """Destination VAT for EU customers, reverse charge for EU businesses (``name="eu_vat"``).

    :param validator: live VAT id check (VIES); ``None`` trusts format and check digits.
    :param rates: the rate table (defaults to :data:`~lms_billing.tax.rates.eu.EU_VAT_RATES`).
    :param reduced_rates: ``{tax_code: {country: rate}}`` for products that qualify for a
        reduced rate (e.g. e-books); each rate must be one of the country's rates in force.
    :param evidence_required: agreeing pieces of location evidence needed for B2C.
    :param allow_majority_evidence: accept a country that enough pieces agree on even when
        another piece disagrees (default: a conflict goes to review).
    """

    name = "eu_vat"

    def __init__(
        self,
        *,
        validator: VatIdValidator | None = None,
        rates: RateTable = EU_VAT_RATES,
        reduced_rates: Mapping[str, Mapping[str, Decimal]] | None = None,
        evidence_required: int = 2,
        allow_majority_evidence: bool = False,
    ) -> None:
        self._validator = validator
        self._rates = rates
        self._reduced = {
            code: dict(by_country) for code, by_country in (reduced_rates or {}).items()
        }
        self._evidence_required = evidence_required
        self._allow_majority = allow_majority_evidence

    def handles(self, request: TaxRequest) -> bool:
        """Customers located in an EU member state."""
        return request.customer.country in EU_MEMBER_STATES

    def calculate(self, request: TaxRequest) -> TaxResult:
        """Tax lines for an EU customer (see the module docstring for the rules)."""
        country = request.customer.country
        day = request.transaction_date
        period = rate_period(self._rates, country, day)  # dates before coverage fail loudly

        if request.customer.is_exempt(country, day):
            return finish(
                self.name, request, uniform(request, country, "vat", ZERO, TaxReason.EXEMPT)
            )

        business, reasons = self._business_buyer(request)
        if reasons:
            return review(self.name, reasons)
        seller = request.seller
        if business:
            if seller.country != country:
                decisions = uniform(
                    request, country, "vat", ZERO, TaxReason.REVERSE_CHARGE, reverse_charge=True
                )
                return finish(self.name, request, decisions, notes=(REVERSE_CHARGE_NOTE,))
            if not self._registered(request, country):
                return not_registered(self.name, request, country, "vat", None)
            return finish(self.name, request, self._rated(request, country, period))

        if self._home_country_rule(request):
            home = rate_period(self._rates, seller.country, day)
            decisions = [
                TaxDecision(
                    d.line_id, d.jurisdiction, d.tax_type, d.rate, TaxReason.HOME_COUNTRY_THRESHOLD
                )
                for d in self._rated(request, seller.country, home)
            ]
            return finish(self.name, request, decisions)

        assessment = assess_location(
            request.evidence,
            country,
            required=self._evidence_required,
            allow_majority=self._allow_majority,
        )
        if not assessment.ok:
            return review(self.name, assessment.reasons)
        if not self._registered(request, country):
            return not_registered(
                self.name, request, country, "vat", None, registration=OSS_JURISDICTION
            )
        return finish(self.name, request, self._rated(request, country, period))

    # -- rules ------------------------------------------------------------------------------

    def _business_buyer(self, request: TaxRequest) -> tuple[bool, tuple[str, ...]]:
        customer = request.customer
        tax_id = find_tax_id(customer, ("eu_vat",))
        if tax_id is None:
            return self_accounts(customer), ()
        vat_id = parse_eu_vat_id(tax_id.value)  # raises InvalidTaxIdError when malformed
        if vat_id.country != customer.country:
            return False, (
                f"vat_id_country_mismatch: vat_id={vat_id.compact}, customer={customer.country}",
            )
        if self._validator is None:
            return True, ()
        try:
            check = self._validator.check(vat_id)
        except ProviderUnavailableError as exc:
            return False, (f"vat_id_unverified: {vat_id.compact} ({exc.message})",)
        if not check.valid:
            return False, (f"vat_id_invalid: {vat_id.compact} is not registered in VIES",)
        return True, ()

    def _home_country_rule(self, request: TaxRequest) -> bool:
        seller = request.seller
        previous = seller.eu_cross_border_sales_previous_year
        current = seller.eu_cross_border_sales_current_year
        return (
            seller.country in EU_MEMBER_STATES
            and seller.country != request.customer.country
            and seller.eu_home_country_threshold
            and previous is not None
            and current is not None
            and previous <= seller.eu_threshold
            and current <= seller.eu_threshold
        )

    @staticmethod
    def _registered(request: TaxRequest, country: str) -> bool:
        seller = request.seller
        if seller.is_registered(country):
            return True
        if country == seller.country:
            # An established seller with a VAT id is registered at home.
            return seller.vat_id is not None
        return seller.is_registered(OSS_JURISDICTION)

    def _rated(self, request: TaxRequest, country: str, period: RatePeriod) -> list[TaxDecision]:
        decisions = []
        for item in request.items:
            rate, reason = period.standard, TaxReason.STANDARD_RATED
            reduced = self._reduced.get(item.tax_code or "", {}).get(country)
            if reduced is not None:
                if reduced != period.standard and reduced not in period.reduced:
                    raise ConfigurationError(
                        f"Reduced rate {reduced} for tax code {item.tax_code!r} is not a rate "
                        f"of {country} on {request.transaction_date.isoformat()}.",
                        country=country,
                        tax_code=item.tax_code,
                    )
                rate = reduced
                if reduced != period.standard:
                    reason = TaxReason.REDUCED_RATED
            decisions.append(TaxDecision(item.line_id, country, "vat", rate, reason))
        return decisions


__all__ = ["OSS_JURISDICTION", "EuVatEngine"]
