"""What the end-to-end tests share: a shop (a Billing with a learner, a course and a
membership on a test clock), an event log plugin, a sandbox with scripted outages, and the
helpers that play Stripe and PayPal at the HTTP boundary (`responses` mocks with payloads
shaped like their API references, webhooks signed or verified the way they do it).

Fixtures built from these live in ``conftest.py`` beside this module.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from lms_billing import Billing, TestClock
from lms_billing.domain.catalog import Price
from lms_billing.domain.customers import Customer
from lms_billing.domain.events import Event
from lms_billing.domain.invoices import Invoice
from lms_billing.domain.payments import PaymentRequest, PaymentResult
from lms_billing.errors import ProviderUnavailableError
from lms_billing.hookspecs import hookimpl
from lms_billing.ports import PaymentGateway
from lms_billing.providers.paypal_gateway import transmission_time
from lms_billing.providers.plugin import gateway_plugin
from lms_billing.providers.sandbox import SandboxGateway
from lms_billing.storage.base import MAX_LIST_LIMIT

# The provider payloads shared with the gateway unit tests (Stripe's and PayPal's shapes).
sys.path.insert(0, str(Path(__file__).parents[1] / "unit" / "payments"))
import paypal_payloads as pp
import stripe_payloads as sp

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
STRIPE = "https://api.stripe.com"
PAYPAL = "https://api-m.sandbox.paypal.com"
STRIPE_SECRET = "whsec_test_secret"
PAYPAL_WEBHOOK_ID = "1JE4291016473214C"


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


class FlakySandbox(SandboxGateway):
    """The sandbox with scripted provider outages on ``create_payment``.

    ``fail_next(n)`` makes the next ``n`` calls time out *before* the sandbox charged;
    ``fail_next(n, after_charge=True)`` lets the sandbox charge and then loses the response
    (the worst case: the money moved, the caller saw a timeout). ``create_calls`` counts
    every call that reached it.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.create_calls = 0
        self._outages: list[bool] = []

    def fail_next(self, count: int = 1, *, after_charge: bool = False) -> None:
        self._outages.extend([after_charge] * count)

    def create_payment(self, request: PaymentRequest) -> PaymentResult:
        self.create_calls += 1
        if not self._outages:
            return super().create_payment(request)
        if self._outages.pop(0):
            super().create_payment(request)
            raise ProviderUnavailableError("Read timed out.", provider=self.name)
        raise ProviderUnavailableError("Connection reset by peer.", provider=self.name)


def make_shop(
    storage_url: str,
    *,
    gateways: tuple[PaymentGateway, ...] = (),
    clock: TestClock | None = None,
    log: EventLog | None = None,
    email: str = "ada@example.org",
    load_entrypoints: bool = False,
) -> Shop:
    """A Billing with the sandbox on a test clock (plus ``gateways``, and installed plugins
    with ``load_entrypoints``), a learner and prices."""
    clock = clock or TestClock(NOW)
    log = log or EventLog()
    sandbox = FlakySandbox(clock=clock)
    billing = Billing(
        storage_url,
        clock=clock,
        plugins=[log, gateway_plugin(sandbox, *gateways)],
        load_entrypoints=load_entrypoints,
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


def sandbox_of(shop: Shop) -> FlakySandbox:
    gateway = shop.billing.plugins.payment_gateway("sandbox")
    assert isinstance(gateway, FlakySandbox)
    return gateway


def invoice_in(shop: Shop, currency: str, amount: int) -> Invoice:
    """An open invoice for one course priced ``amount`` minor units of ``currency``."""
    billing = shop.billing
    product = billing.catalog.create_product(name="Bootcamp", idempotency_key=shop.key("prod"))
    price = billing.catalog.create_price(
        product_id=product.id, currency=currency, unit_amount=amount, idempotency_key=shop.key()
    )
    draft = billing.invoices.create_draft(shop.customer.id, currency, idempotency_key=shop.key())
    billing.invoices.add_price_line(draft.id, price.id, idempotency_key=shop.key())
    return billing.invoices.finalize(draft.id, idempotency_key=shop.key())


# --- Stripe and PayPal at the HTTP boundary ------------------------------------------------


def stripe_signed(event: dict[str, Any], at: datetime) -> tuple[bytes, dict[str, str]]:
    """A webhook body and ``Stripe-Signature`` header signed the way Stripe signs them:
    ``t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` with the endpoint secret."""
    payload = json.dumps(event).encode()
    stamp = int(at.timestamp())
    digest = hmac.new(STRIPE_SECRET.encode(), f"{stamp}.".encode() + payload, hashlib.sha256)
    return payload, {"Stripe-Signature": f"t={stamp},v1={digest.hexdigest()}"}


def stripe_intent(
    amount: int, currency: str, status: str = "succeeded", **changes: Any
) -> dict[str, Any]:
    """A PaymentIntent for ``amount`` minor units of ``currency`` (Stripe's shape, from the
    provider samples), its expanded charge and balance transaction consistent with it."""
    code = currency.lower()
    charged = status == "succeeded"
    charge = dict(
        sp.CHARGE,
        amount=amount,
        amount_captured=amount if charged else 0,
        captured=charged,
        currency=code,
        paid=charged,
        status="succeeded" if charged else "pending",
        balance_transaction=dict(
            sp.BALANCE_TRANSACTION, amount=amount, fee=59, net=amount - 59, currency=code,
            exchange_rate=None,
        ),
    )  # fmt: skip
    intent = sp.intent(
        amount=amount,
        amount_received=amount if charged else 0,
        currency=code,
        status=status,
        latest_charge=charge if status in ("succeeded", "processing") else None,
    )
    intent.update(changes)
    return intent


def stripe_declined(amount: int, currency: str, decline_code: str) -> dict[str, Any]:
    """The 402 body Stripe answers a declined confirmation with (the intent inside)."""
    body = sp.card_error(decline_code)
    body["error"]["payment_intent"].update(amount=amount, currency=currency.lower())
    return body


def paypal_order(
    value: str, status: str = "COMPLETED", capture: str = "COMPLETED", **unit: Any
) -> dict[str, Any]:
    """An Orders v2 order for ``value`` USD with one capture in ``capture`` status (its
    seller_receivable_breakdown as in PayPal's samples); ``unit`` adds purchase-unit fields
    (``custom_id`` ...), and ``id`` names the order."""
    breakdown = {
        "gross_amount": {"currency_code": "USD", "value": value},
        "paypal_fee": {"currency_code": "USD", "value": "0.59"},
        "net_amount": {"currency_code": "USD", "value": str(Decimal(value) - Decimal("0.59"))},
    }
    captured = dict(
        pp.CAPTURED["purchase_units"][0]["payments"]["captures"][0],
        status=capture,
        amount={"currency_code": "USD", "value": value},
        seller_receivable_breakdown=breakdown,
    )
    order = pp.order(status, payments={"captures": [captured]}, value=value)
    order["id"] = unit.pop("id", order["id"])
    order["purchase_units"][0].update(unit)
    return order


def paypal_delivery(event: dict[str, Any], at: datetime) -> tuple[bytes, dict[str, str]]:
    """A PayPal webhook delivery: the body and the five ``PAYPAL-*`` headers (PayPal signs
    with its certificates, so the gateway asks PayPal to verify; mock that call)."""
    headers = {
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
        "PAYPAL-CERT-URL": "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42",
        "PAYPAL-TRANSMISSION-ID": f"69cd13f0-{event['id'][-12:]}",
        "PAYPAL-TRANSMISSION-SIG": "lmI95Jx3Y9nhR5SJWlHVIWpg4AgFk7n9bCHSRxbrd8A9zrhdu2rMyFrmz",
        "PAYPAL-TRANSMISSION-TIME": transmission_time(at),
    }
    return json.dumps(event).encode(), headers


__all__ = [
    "NOW",
    "PAYPAL",
    "PAYPAL_WEBHOOK_ID",
    "STRIPE",
    "STRIPE_SECRET",
    "EventLog",
    "FlakySandbox",
    "Shop",
    "invoice_in",
    "make_shop",
    "paypal_delivery",
    "paypal_order",
    "pp",
    "sandbox_of",
    "sp",
    "stripe_declined",
    "stripe_intent",
    "stripe_signed",
]
