"""Shared builders for the invoicing integration tests (imported by module name)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from lms_billing import Billing
from lms_billing.domain.catalog import Price
from lms_billing.domain.customers import Address, Customer, TaxId
from lms_billing.domain.events import Event
from lms_billing.domain.fx import FxRate
from lms_billing.domain.tax import SellerTaxProfile, TaxLine, TaxRequest, TaxResult
from lms_billing.hookspecs import hookimpl
from lms_billing.settings import BillingSettings, SellerDetails
from lms_billing.storage.base import MAX_LIST_LIMIT

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

SETTINGS = BillingSettings(
    seller=SellerDetails(
        name="Lernwerk Akademie GmbH",
        email="billing@lernwerk.example",
        address=Address(line1="Torstraße 12", city="Berlin", postal_code="10119", country="DE"),
        tax_profile=SellerTaxProfile(country="DE", vat_id="DE123456789"),
        tax_ids=(TaxId(type="eu_vat", value="DE123456789"),),
        registration_number="Amtsgericht Berlin HRB 123456",
    )
)


class FlatVat:
    """19 % on every line (a stand-in tax engine registered through the hook)."""

    name = "flat_vat"

    def handles(self, request: TaxRequest) -> bool:
        return True

    def calculate(self, request: TaxRequest) -> TaxResult:
        lines = tuple(
            TaxLine(
                line_id=item.line_id,
                jurisdiction="DE",
                tax_type="vat",
                rate=Decimal("0.19"),
                taxable_amount=item.amount,
                tax_amount=(item.amount * 19 + 50) // 100,  # half-up to the cent
                reason="standard_rated",
            )
            for item in request.items
        )
        return TaxResult(engine=self.name, lines=lines)


class Recorder:
    """A test plugin: records events, offers a USD->GBP rate and a 19 % tax engine."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    @hookimpl
    def lms_billing_event(self, event: Event) -> None:
        self.events.append(event)

    @hookimpl
    def lms_billing_fx_rates(self) -> list[object]:
        return [OneRate()]

    @hookimpl
    def lms_billing_tax_engines(self) -> list[object]:
        return [FlatVat()]

    def types(self) -> list[str]:
        return [event.type for event in self.events]


class OneRate:
    name = "one-rate"

    def get_rate(self, base: str, quote: str, at: datetime) -> FxRate | None:
        if (base, quote) == ("USD", "GBP"):
            return FxRate(base="USD", quote="GBP", rate=Decimal("0.8"), as_of=at, source="test")
        return None


@dataclass
class Shop:
    customer: Customer
    course: Price  # USD 49.00 flat
    seats: Price  # USD 15.00 per seat
    coupon_id: str  # 20 % off
    code: str  # "SPRING26" for that coupon


def make_shop(billing: Billing, external_id: str = "learner-1") -> Shop:
    customer = billing.customers.create(
        {
            "external_id": external_id,
            "name": "Ada Lovelace",
            "email": "ada@example.org",
            "address": {"country": "US", "state": "CA", "city": "Oakland", "postal_code": "94612"},
        },
        idempotency_key=f"shop:customer:{external_id}",
    )
    product = billing.catalog.create_product(name="Python 101", idempotency_key="shop:p1")
    team = billing.catalog.create_product(name="Team seats", idempotency_key="shop:p2")
    course = billing.catalog.create_price(
        product_id=product.id, currency="USD", unit_amount=4900, idempotency_key="shop:pr1"
    )
    seats = billing.catalog.create_price(
        product_id=team.id,
        currency="USD",
        scheme="per_unit",
        unit_amount=1500,
        idempotency_key="shop:pr2",
    )
    coupon = billing.coupons.create_coupon(
        name="Spring 20 %", percent_off="20", idempotency_key="shop:coupon"
    )
    billing.coupons.create_promotion_code(
        coupon_id=coupon.id, code="SPRING26", idempotency_key="shop:code"
    )
    return Shop(customer=customer, course=course, seats=seats, coupon_id=coupon.id, code="SPRING26")


def stored_state(billing: Billing) -> dict[str, Any]:
    """Everything invoicing stores, as JSON, for before/after comparisons."""
    with billing.storage.unit_of_work() as uow:
        invoices = uow.invoices.list(limit=MAX_LIST_LIMIT)
        customers = uow.customers.list(limit=MAX_LIST_LIMIT)
        return {
            "invoices": [i.model_dump(mode="json") for i in invoices],
            "versions": [uow.invoices.version(i.id) for i in invoices],
            "coupons": [c.model_dump(mode="json") for c in uow.coupons.list(limit=MAX_LIST_LIMIT)],
            "codes": [
                c.model_dump(mode="json") for c in uow.promotion_codes.list(limit=MAX_LIST_LIMIT)
            ],
            "credit_notes": [
                n.model_dump(mode="json") for n in uow.credit_notes.list(limit=MAX_LIST_LIMIT)
            ],
            "receipts": [
                r.model_dump(mode="json") for r in uow.receipts.list(limit=MAX_LIST_LIMIT)
            ],
            "balances": [
                [t.model_dump(mode="json") for t in uow.customer_balance.list(c.id)]
                for c in customers
            ],
            "counters": {
                series: uow.numbering.current(series, "2026")
                for series in ("invoice", "credit_note", "receipt")
            },
        }
