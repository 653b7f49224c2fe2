"""US state sales tax: state-level base rates and the taxability of digital services.

Only the *state* rate is modelled: most states add county, city and district taxes that
depend on the exact address, so this table under-collects wherever local taxes apply. Use the
Stripe Tax adapter (``lms_billing.tax.stripe_tax``) when local precision matters.

``digital_services_taxable`` says whether the state taxes remotely accessed software / online
courses (SaaS-like digital services): ``True``, ``False``, or ``None`` when the rules are
mixed or unsettled (the engine then asks for review instead of guessing). ``taxable_portion``
covers states that tax only part of the price (Texas taxes 80 % of data processing services).
``digital_rate`` overrides the rate for those services (Connecticut: 1 % on computer and data
processing services).

The taxability flags were not re-verified for this release: check them against the states
where the seller has nexus and override them (``UsSalesTaxEngine(taxability=...)``).

Sources: each state's revenue department, via the Federation of Tax Administrators table
https://taxadmin.org/wp-content/uploads/resources/tax_stats/sales_tax_rates.pdf and for
taxability the state pages, e.g.
- NY TSB-A / Publication 750: https://www.tax.ny.gov/pubs_and_bulls/publications/pub750.htm
- TX Rule 3.330 (data processing, 80 % taxable): https://comptroller.texas.gov/taxes/sales/
- WA digital products: https://dor.wa.gov/taxes-rates/retail-sales-tax/digital-products
- CT 1 % computer and data processing services: https://portal.ct.gov/drs
- CA (not taxable, no tangible property transferred): https://www.cdtfa.ca.gov/
- LA state rate 4.45 % -> 5 % on 2025-01-01 (Act 11, HB 10, of the 2024 third extraordinary
  session) and digital products / SaaS taxable from the same day (Act 10, HB 8; LDR Business
  Tax Tip #29): https://revenue.louisiana.gov/
- MD Technical Bulletin 56 (3 % on data / IT / software publishing services from 2025-07-01):
  https://www.marylandcomptroller.gov/legal-library/tb-30-jun-2025.html
- DC Office of Tax and Revenue: https://otr.cfo.dc.gov/ (6 %; the scheduled 2025-10-01 rise to
  6.5 % was repealed by the FY 2026 Budget Support Act).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from lms_billing.tax.rates import RatePeriod, pct

US_COVERAGE_START = date(2024, 1, 1)


@dataclass(frozen=True, slots=True)
class UsStateRule:
    """One state's base rate(s) and how it treats digital services.

    ``taxability_changes``: ``(start, taxable)`` pairs, sorted, that replace
    ``digital_services_taxable`` from ``start`` on (Louisiana taxes digital products from
    2025-01-01).
    """

    periods: tuple[RatePeriod, ...]
    digital_services_taxable: bool | None
    taxable_portion: Decimal = Decimal(1)
    digital_rate: Decimal | None = None
    taxability_changes: tuple[tuple[date, bool | None], ...] = ()

    def taxable_on(self, day: date) -> bool | None:
        """Whether digital services are taxable on ``day`` (``None``: mixed or unsettled)."""
        taxable = self.digital_services_taxable
        for start, value in self.taxability_changes:
            if start <= day:
                taxable = value
        return taxable


def _s(
    rate: str,
    taxable: bool | None,
    *,
    taxable_portion: Decimal = Decimal(1),
    digital_rate: Decimal | None = None,
) -> UsStateRule:
    return UsStateRule(
        (RatePeriod(US_COVERAGE_START, pct(rate)),),
        taxable,
        taxable_portion=taxable_portion,
        digital_rate=digital_rate,
    )


_NO_SALES_TAX = _s("0", False)

US_STATES: Mapping[str, UsStateRule] = {
    "AK": _NO_SALES_TAX,  # no state tax; some boroughs tax remote sales (ARSSTC), not modelled
    "AL": _s("4", None),
    "AR": _s("6.5", False),
    "AZ": _s("5.6", None),
    "CA": _s("7.25", False),
    "CO": _s("2.9", False),
    "CT": _s("6.35", True, digital_rate=pct("1")),
    # DC: the 6 % -> 6.5 % rise scheduled for 2025-10-01 was repealed before it took effect
    # (FY 2026 Budget Support Act); a rise to 7 % is scheduled for 2026-10-01 but not entered
    # here until it is confirmed. Check https://otr.cfo.dc.gov/ before October 2026.
    "DC": _s("6", True),
    "DE": _NO_SALES_TAX,
    "FL": _s("6", False),
    "GA": _s("4", False),
    "HI": _s("4", True),
    "IA": _s("6", None),  # taxable for consumers, exempt for business use
    "ID": _s("6", False),
    "IL": _s("6.25", False),
    "IN": _s("7", False),
    "KS": _s("6.5", False),
    "KY": _s("6", True),
    "LA": UsStateRule(
        (
            RatePeriod(US_COVERAGE_START, pct("4.45")),
            RatePeriod(date(2025, 1, 1), pct("5")),
        ),
        None,
        # Act 10 (HB 8) of the 2024 third extraordinary session: digital products and
        # prewritten software access (SaaS) are taxable from 2025-01-01.
        taxability_changes=((date(2025, 1, 1), True),),
    ),
    "MA": _s("6.25", True),
    # MD: digital products 6 % for personal use; from 2025-07-01 also 3 % on data, IT and
    # software publishing services (SaaS for enterprise use), the higher rate winning where
    # both apply (Comptroller Technical Bulletin 56). Which applies depends on the buyer's use:
    # left to review (override with taxability={"MD": True} for 6 %).
    "MD": _s("6", None),
    "ME": _s("5.5", False),
    "MI": _s("6", False),
    "MN": _s("6.875", None),
    "MO": _s("4.225", False),
    "MS": _s("7", True),
    "MT": _NO_SALES_TAX,
    "NC": _s("4.75", False),
    "ND": _s("5", False),
    "NE": _s("5.5", None),
    "NH": _NO_SALES_TAX,
    "NJ": _s("6.625", False),
    "NM": _s("4.875", True),
    "NV": _s("6.85", False),
    "NY": _s("4", True),
    "OH": _s("5.75", None),  # taxable for business use only
    "OK": _s("4.5", False),
    "OR": _NO_SALES_TAX,
    "PA": _s("6", True),
    "RI": _s("7", True),
    "SC": _s("6", None),
    "SD": _s("4.2", True),
    "TN": _s("7", True),
    "TX": _s("6.25", True, taxable_portion=Decimal("0.8")),
    "UT": _s("4.85", True),
    "VA": _s("4.3", False),
    "VT": _s("6", None),
    "WA": _s("6.5", True),
    "WI": _s("5", False),
    "WV": _s("6", True),
    "WY": _s("4", False),
}

__all__ = ["US_COVERAGE_START", "US_STATES", "UsStateRule"]
