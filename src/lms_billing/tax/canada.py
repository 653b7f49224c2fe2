"""Canada: GST, HST, QST and provincial sales tax on digital services (``name="ca_gst"``).

Which taxes stack depends on the customer's province (``TaxCustomer.region``):

- HST provinces (ON, NB, NL, NS, PE): one harmonized tax, jurisdiction ``"CA-ON"`` etc.
- Quebec: GST 5 % (``"CA"``) plus QST 9.975 % (``"CA-QC"``, its own registration).
- BC, SK, MB: GST plus PST/RST on software and digital services (``"CA-BC"`` etc., each its
  own registration; turn off with ``pst_on_digital=False`` for products a province exempts).
- Everywhere else: GST 5 %.

Registrations: ``"CA"`` for GST/HST, ``"CA-QC"`` for QST, ``"CA-BC"``/``"CA-SK"``/``"CA-MB"``
for PST, each with its own threshold (:data:`CA_THRESHOLDS`). An unregistered seller charges
nothing for a tax only while its recorded ``sales_to_date`` is under that threshold; otherwise
(or with no figure recorded) the result asks for review. A non-resident seller does not charge
GST/HST to a customer with a GST/HST number (nor QST to one with a QST number): reverse charge,
the buyer self-assesses; ``tax_exempt="reverse"`` without such a number goes to review.

Not covered: zero-rated or exempt supplies by product (e.g. some educational services are
exempt when given by a recognised school), place-of-supply rules for multi-province business
customers, and point-of-sale rebates.
"""

from __future__ import annotations

from decimal import Decimal

from lms_billing.domain.tax import TaxReason, TaxRequest, TaxResult
from lms_billing.errors import UnknownJurisdictionError
from lms_billing.tax._common import (
    REVERSE_CHARGE_NOTE,
    ZERO,
    find_tax_id,
    finish,
    reverse_charge_without_id,
    review,
    self_accounts,
    unregistered_reason,
)
from lms_billing.tax.compute import TaxDecision
from lms_billing.tax.rates import rate_period
from lms_billing.tax.rates.national import (
    CA_GST,
    CA_HST,
    CA_PROVINCES,
    CA_PST_DIGITAL,
    CA_QST,
)
from lms_billing.tax.vat_ids import validate_tax_id

# Registration thresholds in CAD minor units, per registration (see rates/national.py):
# GST/HST CAD 30,000 over four consecutive quarters (small supplier; the non-resident simplified
# regime uses the same figure over 12 months), QST CAD 30,000, BC PST and MB RST CAD 10,000 of
# sales into the province. Saskatchewan: out-of-province vendors of taxable software and
# services need a vendor's licence; we know of no small-seller threshold, so 0 (override with
# TaxRegistration.threshold if your adviser says otherwise).
CA_THRESHOLD = 3_000_000
CA_THRESHOLDS: dict[str, int] = {
    "CA": CA_THRESHOLD,
    "CA-QC": 3_000_000,
    "CA-BC": 1_000_000,
    "CA-MB": 1_000_000,
    "CA-SK": 0,
}


class CanadaTaxEngine:
    """GST/HST/QST/PST for customers in Canada."""

    name = "ca_gst"

    def __init__(self, *, pst_on_digital: bool = True) -> None:
        self._pst_on_digital = pst_on_digital

    def handles(self, request: TaxRequest) -> bool:
        """Customers located in Canada."""
        return request.customer.country == "CA"

    def calculate(self, request: TaxRequest) -> TaxResult:
        """Tax lines per province; stacked taxes give several lines per item."""
        province = request.customer.region
        if province is None:
            return review(self.name, ("customer_region_missing: CA",))
        if province not in CA_PROVINCES:
            raise UnknownJurisdictionError(
                f"Unknown Canadian province or territory {province!r}.", region=province
            )
        day = request.transaction_date
        taxes: list[tuple[str, str, Decimal, str, tuple[str, ...]]] = []
        if province in CA_HST:
            rate = rate_period(CA_HST, province, day).standard
            taxes.append((f"CA-{province}", "hst", rate, "CA", ("ca_gst_hst", "ca_bn")))
        else:
            rate = rate_period(CA_GST, "CA", day).standard
            taxes.append(("CA", "gst", rate, "CA", ("ca_gst_hst", "ca_bn")))
        if province in CA_QST:
            rate = rate_period(CA_QST, province, day).standard
            taxes.append(("CA-QC", "qst", rate, "CA-QC", ("ca_qst",)))
        if self._pst_on_digital and province in CA_PST_DIGITAL:
            rate = rate_period(CA_PST_DIGITAL, province, day).standard
            tax_type = "rst" if province == "MB" else "pst"
            taxes.append(
                (
                    f"CA-{province}",
                    tax_type,
                    rate,
                    f"CA-{province}",
                    (f"ca_pst_{province.lower()}",),
                )
            )

        decisions: list[TaxDecision] = []
        notes: list[str] = []
        reviews: list[str] = []
        customer, seller = request.customer, request.seller
        for jurisdiction, tax_type, rate, registration, id_types in taxes:
            tax_id = find_tax_id(customer, id_types)
            if tax_id is not None and tax_id.type in ("ca_gst_hst", "ca_bn"):
                validate_tax_id(tax_id.type, tax_id.value)  # raises InvalidTaxIdError
            applied, reason, reverse = rate, TaxReason.STANDARD_RATED, False
            if customer.is_exempt(jurisdiction, day):
                applied, reason = ZERO, TaxReason.EXEMPT
            elif tax_id is not None and seller.country != "CA":
                applied, reason, reverse = ZERO, TaxReason.REVERSE_CHARGE, True
                notes.append(REVERSE_CHARGE_NOTE)
            elif self_accounts(customer) and seller.country != "CA":
                reviews.append(reverse_charge_without_id(registration, id_types))
            elif not seller.is_registered(registration, day):
                problem = unregistered_reason(
                    request, registration, CA_THRESHOLDS[registration], "CAD"
                )
                if problem is not None:
                    reviews.append(problem)
                applied, reason = ZERO, TaxReason.NOT_REGISTERED
            decisions.extend(
                TaxDecision(item.line_id, jurisdiction, tax_type, applied, reason, reverse)
                for item in request.items
            )
        if reviews:
            return review(self.name, reviews)
        return finish(self.name, request, decisions, notes)


__all__ = ["CA_THRESHOLD", "CA_THRESHOLDS", "CanadaTaxEngine"]
