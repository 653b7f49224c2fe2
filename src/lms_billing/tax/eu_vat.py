"""EU VAT on electronically supplied services, with the One-Stop Shop (OSS) rules.

What it decides, in order (Council Directive 2006/112/EC; see docs/tax.md):

1. Exempt customer (status or certificate) -> zero lines, reason ``exempt``.
2. B2B: the buyer has an EU VAT id (format and check digits via python-stdnum; optionally
   verified live by a :class:`~lms_billing.tax.vat_ids.VatIdValidator`, e.g. VIES).
   Buyer in another member state than the seller -> reverse charge (Art. 196), zero tax,
   invoice note "Reverse charge". Buyer in the seller's own country -> local VAT.
   ``tax_exempt="reverse"`` without a VAT id is not enough: review.
3. B2C: place of supply is the customer's member state (Art. 58), proven by two agreeing pieces
   of location evidence. A seller established in a member state whose cross-border B2C sales
   were at most EUR 10,000 last year and so far this year charges its home-country VAT instead
   (Art. 59c), unless it opted for destination taxation.
4. The seller must be registered where the VAT is due: at home for home-country VAT, in the
   destination or for OSS (jurisdiction ``"EU"``) for destination VAT. An unregistered seller
   never gets a silent zero: the result asks for review and says what registration is missing.

Anything that cannot be decided (conflicting evidence, an id VIES rejects or cannot check, a
missing registration) returns ``needs_review`` with reasons and no lines, never a guessed rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from lms_billing.domain.tax import (
    EU_MEMBER_STATES,
    TaxReason,
    TaxRequest,
    TaxResult,
    VatIdCheck,
)
from lms_billing.errors import ConfigurationError, ProviderUnavailableError
from lms_billing.tax._common import (
    REVERSE_CHARGE_NOTE,
    ZERO,
    find_tax_id,
    finish,
    reverse_charge_without_id,
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

        business, reasons, checks = self._business_buyer(request)
        if reasons:
            return review(self.name, reasons).model_copy(update={"vat_id_checks": checks})
        seller = request.seller
        if business:
            if seller.country != country:
                decisions = uniform(
                    request, country, "vat", ZERO, TaxReason.REVERSE_CHARGE, reverse_charge=True
                )
                result = finish(self.name, request, decisions, notes=(REVERSE_CHARGE_NOTE,))
            elif not self._registered(request, country):
                result = review(self.name, (_unregistered_domestic(country),))
            else:
                result = finish(self.name, request, self._rated(request, country, period))
            return result.model_copy(update={"vat_id_checks": checks})

        assessment = assess_location(
            request.evidence,
            country,
            required=self._evidence_required,
            allow_majority=self._allow_majority,
        )
        if not assessment.ok:
            return review(self.name, assessment.reasons)
        if seller.country == country:
            if not self._registered(request, country):
                return review(self.name, (_unregistered_domestic(country),))
            return finish(self.name, request, self._rated(request, country, period))

        if self._home_country_rule(request):
            if not self._registered(request, seller.country):
                return review(
                    self.name,
                    (
                        f"seller_not_registered: {seller.country} (home-country VAT under the "
                        f"EUR 10,000 threshold, Art. 59c, needs the seller's {seller.country} VAT "
                        "registration: set vat_id)",
                    ),
                )
            home = rate_period(self._rates, seller.country, day)
            decisions = [
                TaxDecision(
                    d.line_id, d.jurisdiction, d.tax_type, d.rate, TaxReason.HOME_COUNTRY_THRESHOLD
                )
                for d in self._rated(request, seller.country, home)
            ]
            return finish(self.name, request, decisions)

        if not self._registered(request, country):
            return review(self.name, (self._unregistered_cross_border(request),))
        return finish(self.name, request, self._rated(request, country, period))

    # -- rules ------------------------------------------------------------------------------

    def _business_buyer(
        self, request: TaxRequest
    ) -> tuple[bool, tuple[str, ...], tuple[VatIdCheck, ...]]:
        """Whether the buyer is a business, review reasons, and the VAT id checks made."""
        customer = request.customer
        tax_id = find_tax_id(customer, ("eu_vat",))
        if tax_id is None:
            if self_accounts(customer):
                # Art. 196 needs a buyer identified for VAT in another member state: a flag
                # on the customer is not evidence of that.
                reason = reverse_charge_without_id(
                    customer.country, id_name="EU VAT id", tax_name="VAT"
                )
                return False, (reason,), ()
            return False, (), ()
        vat_id = parse_eu_vat_id(tax_id.value)  # raises InvalidTaxIdError when malformed
        if vat_id.country != customer.country:
            mismatch = (
                f"vat_id_country_mismatch: vat_id={vat_id.compact}, customer={customer.country}"
            )
            return False, (mismatch,), ()
        if self._validator is None:
            return True, (), ()
        try:
            check = self._validator.check(vat_id)
        except ProviderUnavailableError as exc:
            return False, (f"vat_id_unverified: {vat_id.compact} ({exc.message})",), ()
        if not check.valid:
            invalid = f"vat_id_invalid: {vat_id.compact} is not registered in VIES"
            return False, (invalid,), (check,)
        return True, (), (check,)

    def _home_country_rule(self, request: TaxRequest) -> bool:
        """Art. 59c: an EU-established seller under the EUR 10,000 threshold (last year and
        this year, this sale included) that has not opted for destination taxation."""
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
    def _unregistered_cross_border(request: TaxRequest) -> str:
        """Why an unregistered seller cannot be taxed on a cross-border B2C sale."""
        seller, country = request.seller, request.customer.country
        oss = seller.registration(OSS_JURISDICTION, request.transaction_date)
        if oss is not None and oss.sales_to_date is not None:
            threshold = oss.threshold if oss.threshold is not None else seller.eu_threshold
            if seller.country not in EU_MEMBER_STATES or oss.sales_to_date > threshold:
                return f"registration_threshold_exceeded: {OSS_JURISDICTION}"
        if seller.country not in EU_MEMBER_STATES:
            return (
                f"seller_not_registered: {country} (a seller established outside the EU owes "
                f"{country} VAT from the first sale: register for the non-Union OSS scheme or "
                f"in {country})"
            )
        previous = seller.eu_cross_border_sales_previous_year
        current = seller.eu_cross_border_sales_current_year
        if previous is None or current is None:
            return (
                f"seller_not_registered: {country} (no OSS or {country} VAT registration; "
                "record eu_cross_border_sales_previous_year and _current_year to apply "
                "home-country VAT under the EUR 10,000 threshold, or register for OSS)"
            )
        if not seller.eu_home_country_threshold:
            return (
                f"seller_not_registered: {country} (the seller opted for destination "
                f"taxation but has no OSS or {country} VAT registration)"
            )
        return (
            f"registration_threshold_exceeded: {OSS_JURISDICTION} (cross-border sales above "
            f"EUR 10,000: {country} VAT is due; register for OSS or in {country})"
        )

    @staticmethod
    def _registered(request: TaxRequest, country: str) -> bool:
        seller = request.seller
        day = request.transaction_date
        if seller.is_registered(country, day):
            return True
        if country == seller.country:
            # An established seller with a VAT id is registered at home.
            return seller.vat_id is not None
        return seller.is_registered(OSS_JURISDICTION, day)

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


def _unregistered_domestic(country: str) -> str:
    return (
        f"seller_not_registered: {country} (a sale in the seller's own member state needs its "
        f"{country} VAT registration: set vat_id or a {country} registration)"
    )


__all__ = ["OSS_JURISDICTION", "EuVatEngine"]
