"""BillingSimulator against the real services on every backend: a year of renewals from a
month-end anchor, a trial ending, a failed renewal going through dunning and recovering, all
observed step by step as with Stripe's test clocks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from lms_billing import Billing
from lms_billing.domain.catalog import Price
from lms_billing.domain.customers import Customer
from lms_billing.domain.invoices import Invoice, InvoiceStatus
from lms_billing.domain.subscriptions import Subscription
from lms_billing.testing import BillingSimulator, sandbox_billing

START = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)  # a month-end anchor


def _period_start(invoice: Invoice) -> datetime:
    period = invoice.lines[0].period
    assert period is not None
    return period.start


@dataclass
class World:
    billing: Billing
    simulator: BillingSimulator
    customer: Customer
    monthly: Price  # USD 10.00 a month

    def subscribe(self, card: str = "pm_card_visa", **options: object) -> Subscription:
        self.billing.payments.attach_payment_method(
            self.customer.id, card, idempotency_key=f"card:{card}", set_default=True
        )
        return self.billing.subscriptions.create(
            self.customer.id, [{"price_id": self.monthly.id}], idempotency_key="sub", **options
        )

    def use_card(self, card: str) -> None:
        self.billing.payments.attach_payment_method(
            self.customer.id, card, idempotency_key=f"card:{card}", set_default=True
        )


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    url = (
        "memory://"
        if request.param == "memory"
        else request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    )
    with sandbox_billing(url, start=START) as billing:
        customer = billing.customers.create(
            {"external_id": "learner-1", "name": "Ada", "email": "ada@example.org"},
            idempotency_key="customer",
        )
        product = billing.catalog.create_product(name="All-access", idempotency_key="product")
        monthly = billing.catalog.create_price(
            product_id=product.id,
            currency="USD",
            unit_amount=1000,
            recurring={"interval": "month"},
            idempotency_key="monthly",
        )
        with BillingSimulator(billing) as simulator:
            yield World(billing, simulator, customer, monthly)


def test_a_year_of_renewals_stops_at_each_period_end(world: World) -> None:
    sub = world.subscribe()
    report = world.simulator.advance(months=12)

    first = report.steps[0]  # settles the first invoice at once, as a deployment would
    assert first.at == START
    assert first.changes_of(sub.id) == [("incomplete", "active")]
    assert first.collection is not None and first.collection.paid == 1

    renewals = [step for step in report.steps if step.invoices_created]
    assert [(s.at.month, s.at.day) for s in renewals] == [
        (2, 28), (3, 31), (4, 30), (5, 31), (6, 30), (7, 31),
        (8, 31), (9, 30), (10, 31), (11, 30), (12, 31), (1, 31),
    ]  # fmt: skip
    for step in renewals:
        (invoice,) = step.invoices_created
        assert _period_start(invoice) == step.at  # billed at the renewal, not at the end
        assert step.billing_run.renewed == 1 and step.collection is not None
        assert step.collection.paid == 1
        assert "customer.subscription.renew" in step.event_types
    numbers = [s.invoices_created[0].number for s in renewals]
    assert numbers[:11] == [f"INV-2026-{n:06d}" for n in range(2, 13)]
    assert numbers[11] == "INV-2027-000001"  # the yearly series restarts on the clock's year
    assert report.at == datetime(2027, 1, 31, 9, 0, tzinfo=UTC)
    current = world.billing.subscriptions.get(sub.id)
    assert current.status == "active"
    assert current.current_period_end == datetime(2027, 2, 28, 9, 0, tzinfo=UTC)
    stored = world.billing.invoices.list_invoices(customer_id=world.customer.id, limit=100)
    assert len(stored) == 13 and all(i.status is InvoiceStatus.PAID for i in stored)


def test_a_trial_sends_its_notice_then_converts(world: World) -> None:
    sub = world.subscribe(trial_period_days=14)
    assert sub.status == "trialing"
    report = world.simulator.advance(days=20)

    notice, conversion = (step for step in report.steps if step.events)
    assert notice.at == sub.trial_end - timedelta(days=3)  # type: ignore[operator]
    assert notice.event_types == ["customer.subscription.trial_will_end"]
    assert notice.invoices_created == ()
    assert conversion.at == sub.trial_end
    assert conversion.changes_of(sub.id) == [("trialing", "active")]
    assert conversion.billing_run.trials_converted == 1
    (invoice,) = conversion.invoices_created
    assert invoice.total == 1000 and _period_start(invoice) == sub.trial_end
    assert report.at == START + timedelta(days=20)


def test_a_declined_renewal_goes_through_dunning_step_by_step(world: World) -> None:
    sub = world.subscribe()
    world.simulator.advance(days=1)  # first invoice paid
    world.use_card("pm_card_chargeDeclinedInsufficientFunds")
    report = world.simulator.advance(months=1, days=10)

    renewal_at = datetime(2026, 2, 28, 9, 0, tzinfo=UTC)
    attempts = [step for step in report.steps if step.collection and step.collection.attempted]
    # Renewal, then the default retries 1, 3, 5 and 7 days after the first failure.
    assert [step.at for step in attempts] == [
        renewal_at + timedelta(days=days) for days in (0, 1, 3, 5, 7)
    ]
    assert all("payment.failed" in step.event_types for step in attempts)
    assert report.statuses_of(sub.id) == ["active", "past_due", "unpaid"]
    (invoice,) = report.invoices_created
    assert world.billing.invoices.get_invoice(invoice.id).status is InvoiceStatus.OPEN


def test_a_new_card_recovers_at_the_next_retry(world: World) -> None:
    sub = world.subscribe()
    world.simulator.advance(days=1)
    world.use_card("pm_card_chargeDeclinedInsufficientFunds")
    failed = world.simulator.advance_to(datetime(2026, 2, 28, 12, 0, tzinfo=UTC))
    assert failed.statuses_of(sub.id) == ["active", "past_due"]

    world.use_card("pm_card_mastercard")
    recovered = world.simulator.advance(days=2)
    (retry,) = [step for step in recovered.steps if step.status_changes]
    assert retry.at == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)  # the first retry, a day later
    assert retry.changes_of(sub.id) == [("past_due", "active")]
    (invoice_change,) = [c for c in retry.status_changes if c.object == "invoice"]
    assert (invoice_change.before, invoice_change.after) == ("open", "paid")
    assert "invoice.paid" in retry.event_types


def test_without_collection_invoices_stay_open(world: World) -> None:
    sub = world.subscribe()
    simulator = BillingSimulator(world.billing, collect=False)
    report = simulator.advance(days=2)
    assert all(step.collection is None for step in report.steps)
    # The first invoice expires unpaid after 23 hours, as on Stripe.
    (expiry,) = [step for step in report.steps if step.status_changes]
    assert expiry.at == START + timedelta(hours=23)
    assert expiry.changes_of(sub.id) == [("incomplete", "incomplete_expired")]
    simulator.close()


def test_regular_steps_add_stops_between_due_instants(world: World) -> None:
    world.subscribe()
    report = world.simulator.advance(days=3, step=timedelta(days=1))
    assert [step.at for step in report.steps] == [
        START,  # the first invoice collected
        START + timedelta(days=1),
        START + timedelta(days=2),
        START + timedelta(days=3),
    ]
    assert report.steps[0].invoices_created == ()  # it was created before the simulation
    assert all(not step.happened for step in report.steps[1:])
