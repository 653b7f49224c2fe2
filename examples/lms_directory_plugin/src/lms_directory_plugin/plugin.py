"""Hook implementations, loaded by lms-billing from the ``lms_billing`` entry point.

A real plugin would call the LMS's User and Course services over HTTP; this one answers from
small in-module tables so it runs offline.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from lms_billing import hookimpl
from lms_billing.domain.catalog import ProductKind, ProductProfile
from lms_billing.domain.customers import Address, CustomerKind, CustomerProfile, TaxId
from lms_billing.domain.events import Event
from lms_billing.domain.fx import FxRate

USERS: dict[str, CustomerProfile] = {
    "lms-user-42": CustomerProfile(
        external_id="lms-user-42",
        email="ada@example.org",
        name="Ada Lovelace",
        address=Address(country="GB", city="London", postal_code="W1A 1AA"),
        locale="en_GB",
    ),
    "lms-org-7": CustomerProfile(
        external_id="lms-org-7",
        kind=CustomerKind.ORGANIZATION,
        name="Lernwerk GmbH",
        email="billing@lernwerk.example",
        address=Address(country="DE", city="Berlin", postal_code="10115"),
        locale="de_DE",
        preferred_currency="EUR",
        tax_ids=(TaxId(type="eu_vat", value="DE136695976"),),
    ),
}

COURSES: dict[str, ProductProfile] = {
    "course-python-101": ProductProfile(
        external_id="course-python-101",
        name="Python 101",
        kind=ProductKind.COURSE,
        description="An introduction to programming in Python.",
    ),
}

# One source, dated: a real plugin would fetch the ECB reference rates daily.
EUR_RATES = {"USD": Decimal("1.0850"), "GBP": Decimal("0.8420"), "JPY": Decimal("163.12")}
RATES_AS_OF = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)


class StaticEcbRates:
    """EUR-based reference rates; inverse pairs are derived on request."""

    name = "example-ecb"

    def get_rate(self, base: str, quote: str, at: datetime) -> FxRate | None:
        if base == "EUR" and quote in EUR_RATES:
            rate = EUR_RATES[quote]
        elif quote == "EUR" and base in EUR_RATES:
            rate = (Decimal(1) / EUR_RATES[base]).quantize(Decimal("0.000001"))
        else:
            return None
        return FxRate(base=base, quote=quote, rate=rate, as_of=RATES_AS_OF, source=self.name)


received_events: list[Event] = []


@hookimpl
def lms_billing_resolve_customer(external_id: str) -> CustomerProfile | None:
    return USERS.get(external_id)


@hookimpl
def lms_billing_resolve_product(external_id: str) -> ProductProfile | None:
    return COURSES.get(external_id)


@hookimpl
def lms_billing_fx_rates() -> list[StaticEcbRates]:
    return [StaticEcbRates()]


@hookimpl
def lms_billing_event(event: Event) -> None:
    received_events.append(event)
