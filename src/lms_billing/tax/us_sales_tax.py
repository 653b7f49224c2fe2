"""US sales tax from a configurable state table (``name="us_sales_tax"``).

Rules: the customer's state (``TaxCustomer.region``) decides; an exempt customer or a valid
exemption certificate for the state gives zero lines (``exempt``); no nexus in the state gives
zero lines (``no_nexus``); a state that does not tax digital services gives zero lines
(``not_taxable``); a state whose taxability is unknown goes to review. Otherwise the state
base rate applies (Connecticut 1 % and Texas 80 % special cases included).

Not covered: county, city and district taxes (this engine under-collects wherever they apply:
use the Stripe Tax adapter for address-level precision), economic-nexus tracking (pass the
nexus list), product taxability beyond "digital services" (override per state).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lms_billing.domain.tax import TaxReason, TaxRequest, TaxResult
from lms_billing.errors import UnknownJurisdictionError
from lms_billing.tax._common import ZERO, finish, review, uniform
from lms_billing.tax.compute import TaxDecision
from lms_billing.tax.rates import rate_period
from lms_billing.tax.rates.us import US_STATES, UsStateRule


class UsSalesTaxEngine:
    """State sales tax for US customers.

    :param nexus: state codes (``"CA"``, ``"NY"``) where the seller must collect; a seller
        registration ``"US-NY"`` counts too.
    :param taxability: per-state override of whether digital services are taxable.
    :param states: the state table (defaults to :data:`~lms_billing.tax.rates.us.US_STATES`).
    """

    name = "us_sales_tax"

    def __init__(
        self,
        *,
        nexus: Iterable[str] = (),
        taxability: Mapping[str, bool] | None = None,
        states: Mapping[str, UsStateRule] = US_STATES,
    ) -> None:
        self._nexus = frozenset(code.upper() for code in nexus)
        self._taxability = {k.upper(): v for k, v in (taxability or {}).items()}
        self._states = states
        unknown = (self._nexus | set(self._taxability)) - set(states)
        if unknown:
            raise UnknownJurisdictionError(
                f"Unknown US states in configuration: {sorted(unknown)}.", states=sorted(unknown)
            )

    def handles(self, request: TaxRequest) -> bool:
        """Customers located in the United States."""
        return request.customer.country == "US"

    def calculate(self, request: TaxRequest) -> TaxResult:
        """Tax lines at the state rate, or zero lines with the reason."""
        state = request.customer.region
        if state is None:
            return review(self.name, ("customer_region_missing: US",))
        rule = self._states.get(state)
        if rule is None:
            raise UnknownJurisdictionError(f"Unknown US state {state!r}.", region=state)
        jurisdiction = f"US-{state}"
        day = request.transaction_date
        period = rate_period({state: rule.periods}, state, day)

        def zero(reason: str) -> TaxResult:
            return finish(
                self.name, request, uniform(request, jurisdiction, "sales_tax", ZERO, reason)
            )

        if request.customer.is_exempt(jurisdiction, day):
            return zero(TaxReason.EXEMPT)
        if state not in self._nexus and not request.seller.is_registered(jurisdiction, day):
            return zero(TaxReason.NO_NEXUS)
        taxable = self._taxability.get(state, rule.taxable_on(day))
        if taxable is None:
            return review(self.name, (f"taxability_unknown: {jurisdiction}",))
        if not taxable or period.standard == 0:
            return zero(TaxReason.NOT_TAXABLE)
        rate = rule.digital_rate if rule.digital_rate is not None else period.standard
        decisions = [
            TaxDecision(
                item.line_id,
                jurisdiction,
                "sales_tax",
                rate,
                TaxReason.STANDARD_RATED,
                taxable_portion=rule.taxable_portion,
            )
            for item in request.items
        ]
        return finish(self.name, request, decisions)


__all__ = ["UsSalesTaxEngine"]
