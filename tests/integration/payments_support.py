"""Shared builders for the payment integration tests (imported by module name)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lms_billing import Billing, TestClock
from lms_billing.domain.catalog import Price
from lms_billing.domain.customers import Customer
from lms_billing.domain.events import Event
from lms_billing.domain.invoices import Invoice
from lms_billing.hookspecs import hookimpl
from lms_billing.ports import PaymentGateway
from lms_billing.providers.plugin import gateway_plugin
from lms_billing.providers.sandbox import SandboxGateway
from lms_billing.storage.base import MAX_LIST_LIMIT

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class EventLog:
    """A test plugin recording every emitted event (and optionally adding fraud rules)."""

    def __init__(self, fraud_rules: list[object] | None = None) -> None:
        self.events: list[Event] = []
        self._rules = list(fraud_rules or [])

    @hookimpl
    def lms_billing_event(self, event: Event) -> None:
        self.events.append(event)

    @hookimpl
    def lms_billing_fraud_rules(self) -> list[object]:
        return list(self._rules)

    def types(self) -> list[str]:
        return [event.type for event in self.events]

    def count(self, type: str) -> int:
        return sum(1 for event in self.events if event.type == type)


@dataclass
class Shop:
    billing: Billing
    clock: TestClock
    log: EventLog
    customer: Customer
    course: Price  # USD 49.00, one time
    monthly: Price  # USD 10.00 / month
    keys: list[int] = field(default_factory=lambda: [0])

    def key(self, label: str = "k") -> str:
        self.keys[0] += 1
        return f"{label}-{self.keys[0]}"

    def open_invoice(self, price: Price | None = None, customer_id: str | None = None) -> Invoice:
        """A finalized (open) invoice for the course."""
        billing = self.billing
        draft = billing.invoices.create_draft(
            customer_id or self.customer.id, "USD", idempotency_key=self.key("draft")
        )
        billing.invoices.add_price_line(
            draft.id, (price or self.course).id, idempotency_key=self.key("line")
        )
        return billing.invoices.finalize(draft.id, idempotency_key=self.key("finalize"))

    def invoice(self, invoice_id: str) -> Invoice:
        return self.billing.invoices.get_invoice(invoice_id)

    def stored(self) -> dict[str, Any]:
        """Everything the payment tables hold, for before/after comparisons."""
        with self.billing.storage.unit_of_work() as uow:
            payments = uow.payments.list(limit=MAX_LIST_LIMIT)
            return {
                "payments": [p.model_dump(mode="json") for p in payments],
                "refunds": [
                    r.model_dump(mode="json")
                    for p in payments
                    for r in uow.refunds.list(payment_id=p.id, limit=MAX_LIST_LIMIT)
                ],
                "methods": [
                    m.model_dump(mode="json")
                    for m in uow.payment_methods.list(active=None, limit=MAX_LIST_LIMIT)
                ],
                "receipts": [
                    r.model_dump(mode="json") for r in uow.receipts.list(limit=MAX_LIST_LIMIT)
                ],
                "credit_notes": [
                    n.model_dump(mode="json") for n in uow.credit_notes.list(limit=MAX_LIST_LIMIT)
                ],
                "invoices": [
                    i.model_dump(mode="json") for i in uow.invoices.list(limit=MAX_LIST_LIMIT)
                ],
            }


def make_shop(
    storage_url: str,
    *,
    gateways: tuple[PaymentGateway, ...] = (),
    clock: TestClock | None = None,
    log: EventLog | None = None,
    email: str = "ada@example.org",
) -> Shop:
    """A Billing with the sandbox on a test clock (plus ``gateways``), a learner and prices."""
    clock = clock or TestClock(NOW)
    log = log or EventLog()
    sandbox = SandboxGateway(clock=clock)
    billing = Billing(
        storage_url,
        clock=clock,
        plugins=[log, gateway_plugin(sandbox, *gateways)],
        load_entrypoints=False,
    )
    customer = billing.customers.create(
        {
            "external_id": "learner-1",
            "name": "Ada Lovelace",
            "email": email,
            "address": {"country": "US", "state": "CA", "postal_code": "94612"},
        },
        idempotency_key="shop:customer",
    )
    product = billing.catalog.create_product(name="Python 101", idempotency_key="shop:p1")
    course = billing.catalog.create_price(
        product_id=product.id, currency="USD", unit_amount=4900, idempotency_key="shop:course"
    )
    membership = billing.catalog.create_product(name="All-access", idempotency_key="shop:p2")
    monthly = billing.catalog.create_price(
        product_id=membership.id,
        currency="USD",
        unit_amount=1000,
        recurring={"interval": "month"},
        idempotency_key="shop:monthly",
    )
    return Shop(billing, clock, log, customer, course, monthly)


def sandbox_of(shop: Shop) -> SandboxGateway:
    gateway = shop.billing.plugins.payment_gateway("sandbox")
    assert isinstance(gateway, SandboxGateway)
    return gateway
