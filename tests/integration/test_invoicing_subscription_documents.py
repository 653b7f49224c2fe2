"""The invoice engine behind subscriptions, through the Billing facade on SQLite and
PostgreSQL: receipts for what a collector takes, and coupons on invoices with prorations."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from lms_billing import Billing, TestClock
from lms_billing.domain.catalog import Price
from lms_billing.domain.events import Event
from lms_billing.domain.invoices import Invoice, InvoiceStatus, mark_paid
from lms_billing.domain.subscriptions import Subscription
from lms_billing.hookspecs import hookimpl
from lms_billing.services.collection import (
    CollectionOutcome,
    CollectionResult,
    OutOfBandCollector,
)
from lms_billing.storage.base import MAX_LIST_LIMIT

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class Events:
    def __init__(self) -> None:
        self.events: list[Event] = []

    @hookimpl
    def lms_billing_event(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.type == kind]


class HalfNowCollector:
    """A card that covers half of each invoice (a partial capture), with its payment id."""

    def __init__(self) -> None:
        self.calls = 0

    def collect(
        self, invoice: Invoice, subscription: Subscription, now: datetime
    ) -> CollectionResult:
        self.calls += 1
        paid = mark_paid(invoice, invoice.amount_remaining // 2, now)
        return CollectionResult(
            paid,
            CollectionOutcome.PENDING,
            payment_reference=f"pi_{self.calls}",
            payment_method="Visa •••• 4242",
        )


@dataclass
class World:
    billing: Billing
    clock: TestClock
    events: Events
    customer_id: str
    basic: Price  # USD 10.00 / month
    pro: Price  # USD 20.00 / month

    def invoices(self) -> list[Invoice]:
        with self.billing.storage.unit_of_work() as uow:
            found = uow.invoices.list(customer_id=self.customer_id, limit=MAX_LIST_LIMIT)
        return sorted(found, key=lambda i: (i.created_at, i.id))


@pytest.fixture
def world(storage_url: str) -> Iterator[World]:
    clock = TestClock(START)
    events = Events()
    with Billing(storage_url, clock=clock, plugins=[events], load_entrypoints=False) as billing:
        customer = billing.customers.create({"external_id": "ada"}, idempotency_key="c")
        product = billing.catalog.create_product(name="All-access", idempotency_key="p")
        monthly = {"interval": "month"}
        basic, pro = (
            billing.catalog.create_price(
                product_id=product.id,
                currency="USD",
                scheme="per_unit",
                unit_amount=amount,
                recurring=monthly,
                idempotency_key=f"price{amount}",
            )
            for amount in (1000, 2000)
        )
        yield World(billing, clock, events, customer.id, basic, pro)


# --- receipts -----------------------------------------------------------------------------


def test_every_payment_a_collector_takes_gets_a_receipt(world: World) -> None:
    billing = world.billing
    billing.subscriptions.collector = OutOfBandCollector()
    billing.subscriptions.create(
        world.customer_id, [{"price_id": world.basic.id}], idempotency_key="s"
    )
    for month in (4, 5):
        world.clock.set(datetime(2026, month, 1, 9, 0, tzinfo=UTC))
        billing.subscriptions.run_billing()

    paid = [i for i in world.invoices() if i.status is InvoiceStatus.PAID]
    assert len(paid) == 3  # March (creation), April and May renewals
    receipts = billing.invoices.list_receipts(customer_id=world.customer_id)
    assert sorted((r.invoice_id, r.amount_paid) for r in receipts) == sorted(
        (i.id, 1000) for i in paid
    )
    assert sorted(r.number for r in receipts) == [f"RCT-2026-{n:06d}" for n in (1, 2, 3)]
    assert {r.payment_id for r in receipts} == {f"out_of_band_{i.id}" for i in paid}
    announced = {
        e.data.get("receipt_id") or e.data["object"]["id"]
        for e in world.events.of("receipt.created")
    }
    assert announced == {r.id for r in receipts}


def test_a_partial_collection_gets_a_receipt_for_what_was_taken(world: World) -> None:
    billing = world.billing
    billing.subscriptions.collector = OutOfBandCollector()  # the first invoice is paid
    billing.subscriptions.create(
        world.customer_id, [{"price_id": world.pro.id}], idempotency_key="s"
    )
    billing.subscriptions.collector = HalfNowCollector()
    world.clock.set(datetime(2026, 4, 1, 9, 0, tzinfo=UTC))
    billing.subscriptions.run_billing()

    renewal = world.invoices()[-1]
    assert (renewal.status, renewal.amount_paid) == (InvoiceStatus.OPEN, 1000)
    (receipt,) = billing.invoices.list_receipts(invoice_id=renewal.id)
    assert (receipt.payment_id, receipt.amount_paid, receipt.amount_remaining) == (
        "pi_1",
        1000,
        1000,
    )
    assert (receipt.payment_method, receipt.invoice_number) == ("Visa •••• 4242", renewal.number)


def test_an_expiring_incomplete_subscription_keeps_a_part_paid_invoice(world: World) -> None:
    """Its first invoice was not paid in full, so the subscription expires; the invoice has
    a payment, so it is not voided (that would lose the payment): it stays open to credit."""
    billing = world.billing
    billing.subscriptions.collector = HalfNowCollector()
    billing.subscriptions.create(
        world.customer_id, [{"price_id": world.pro.id}], idempotency_key="s"
    )
    world.clock.set(datetime(2026, 4, 1, 9, 0, tzinfo=UTC))
    billing.subscriptions.run_billing()
    (first,) = world.invoices()
    assert (first.status, first.amount_paid) == (InvoiceStatus.OPEN, 1000)
    assert [r.amount_paid for r in billing.invoices.list_receipts(invoice_id=first.id)] == [1000]


def test_nothing_taken_no_receipt(world: World) -> None:
    billing = world.billing  # the default collector attempts nothing
    billing.subscriptions.create(
        world.customer_id, [{"price_id": world.basic.id}], idempotency_key="s"
    )
    world.clock.set(datetime(2026, 4, 1, 9, 0, tzinfo=UTC))
    billing.subscriptions.run_billing()
    assert [i.status for i in world.invoices()] == [InvoiceStatus.VOID]  # expired incomplete
    assert billing.invoices.list_receipts(customer_id=world.customer_id) == []


# --- coupons on prorations ----------------------------------------------------------------


def test_a_coupon_discounts_the_renewal_with_its_upgrade_prorations_evenly(world: World) -> None:
    """The audit's case: 50 % forever, upgrade on Mar 16. The renewal's subtotal (Pro for
    April plus the prorations) is halved as a whole, not the charges alone."""
    billing = world.billing
    billing.subscriptions.collector = OutOfBandCollector()
    half = billing.coupons.create_coupon(percent_off="50", duration="forever", idempotency_key="h")
    sub = billing.subscriptions.create(
        world.customer_id, [{"price_id": world.basic.id}], coupon=half.id, idempotency_key="s"
    )
    world.clock.set(datetime(2026, 3, 16, 9, 0, tzinfo=UTC))
    billing.subscriptions.update_items(sub.id, [{"price_id": world.pro.id}], idempotency_key="u")
    world.clock.set(datetime(2026, 4, 1, 9, 0, tzinfo=UTC))
    billing.subscriptions.run_billing()

    renewal = world.invoices()[-1]
    amounts = sorted(line.amount for line in renewal.lines)
    assert amounts[0] < 0 < amounts[1]  # the credit for unused Basic, then charges
    assert renewal.subtotal == sum(amounts) == 2516
    assert (renewal.total_discount, renewal.total) == (1258, 1258)
    for line in renewal.lines:
        assert line.discount * 2 in (line.amount - 1, line.amount, line.amount + 1)


# --- negative invoices --------------------------------------------------------------------


def test_a_downgrade_invoiced_at_once_credits_the_customer(world: World) -> None:
    """Pro -> Basic mid-period with always_invoice: the invoice is negative; the difference
    is owed to the customer, so it goes to the balance and pays the next renewal."""
    billing = world.billing
    billing.subscriptions.collector = OutOfBandCollector()
    sub = billing.subscriptions.create(
        world.customer_id, [{"price_id": world.pro.id}], idempotency_key="s"
    )
    world.clock.set(datetime(2026, 3, 16, 9, 0, tzinfo=UTC))
    billing.subscriptions.update_items(
        sub.id,
        [{"price_id": world.basic.id}],
        proration_behavior="always_invoice",
        idempotency_key="down",
    )
    downgrade = world.invoices()[-1]
    assert downgrade.total < 0 and downgrade.status is InvoiceStatus.PAID
    owed = -downgrade.total
    assert downgrade.credited_to_balance == owed
    balance = billing.invoices.customer_balance(world.customer_id, "USD")
    assert balance.get_amount_in_sub_unit() == owed

    world.clock.set(datetime(2026, 4, 1, 9, 0, tzinfo=UTC))
    billing.subscriptions.run_billing()
    renewal = world.invoices()[-1]
    assert renewal.total == 1000 and renewal.applied_balance == owed
    assert renewal.amount_paid == 1000 - owed  # the collector took only the rest
    types = [t.type for t in billing.invoices.balance_transactions(world.customer_id)]
    assert sorted(types) == ["applied_to_invoice", "invoice_credit"]
