"""Payment repositories behave alike on memory, SQLite and PostgreSQL: unique keys (the
webhook inbox's (gateway, event id), a payment's idempotency key and gateway id), lookups,
due dunning states and the velocity history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lms_billing.domain.customers import Customer
from lms_billing.domain.invoices import Invoice
from lms_billing.domain.payment_records import (
    DunningState,
    DunningStatus,
    GatewayCustomerLink,
    Payment,
    StoredPaymentMethod,
    WebhookInboxEntry,
)
from lms_billing.domain.payments import PaymentStatus
from lms_billing.errors import AlreadyExistsError, NotFoundError
from lms_billing.ids import new_id
from lms_billing.storage.base import Storage

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def seed(storage: Storage) -> tuple[str, str]:
    """A customer and an invoice to hang payments on."""
    customer = Customer(id=new_id("cus"), external_id="u-1", created_at=NOW)
    invoice = Invoice(id=new_id("in"), customer_id=customer.id, currency="USD", created_at=NOW)
    with storage.unit_of_work() as uow:
        uow.customers.add(customer)
        uow.invoices.add(invoice)
        uow.commit()
    return customer.id, invoice.id


def payment(customer_id: str, invoice_id: str, key: str, **changes: object) -> Payment:
    base = Payment(
        id=new_id("pay"),
        invoice_id=invoice_id,
        customer_id=customer_id,
        gateway="sandbox",
        idempotency_key=key,
        request_hash="h",
        amount=4900,
        currency="USD",
        status=PaymentStatus.FAILED,  # finished attempts: any number per invoice
        created_at=NOW,
        updated_at=NOW,
    )
    return base.model_copy(update=changes)


def inbox(event_id: str) -> WebhookInboxEntry:
    return WebhookInboxEntry(
        id=new_id("whe"),
        gateway="stripe",
        event_id=event_id,
        type="payment.succeeded",
        provider_type="payment_intent.succeeded",
        payload_hash="0" * 64,
        received_at=NOW,
    )


def test_webhook_inbox_is_unique_per_gateway_and_event(storage: Storage) -> None:
    with storage.unit_of_work() as uow:
        uow.webhook_events.add(inbox("evt_1"))
        uow.commit()
    with storage.unit_of_work() as uow, pytest.raises(AlreadyExistsError):
        uow.webhook_events.add(inbox("evt_1"))
    with storage.unit_of_work() as uow:
        other = inbox("evt_1").model_copy(update={"gateway": "paypal"})
        uow.webhook_events.add(other)  # the same id at another gateway is another event
        uow.commit()
        found = uow.webhook_events.get_by_event("stripe", "evt_1")
        assert found is not None and found.gateway == "stripe"
        assert uow.webhook_events.get_by_event("stripe", "evt_2") is None


def test_payments_are_unique_by_key_and_gateway_id_and_found_by_both(storage: Storage) -> None:
    customer_id, invoice_id = seed(storage)
    first = payment(customer_id, invoice_id, "k-1", gateway_payment_id="pi_1")
    with storage.unit_of_work() as uow:
        uow.payments.add(first)
        uow.payments.add(payment(customer_id, invoice_id, "k-2"))  # no gateway id yet
        uow.payments.add(payment(customer_id, invoice_id, "k-3"))
        uow.commit()
    for duplicate in (
        payment(customer_id, invoice_id, "k-1"),
        payment(customer_id, invoice_id, "k-4", gateway_payment_id="pi_1"),
    ):
        with storage.unit_of_work() as uow, pytest.raises(AlreadyExistsError):
            uow.payments.add(duplicate)
            uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.payments.get_by_idempotency_key("k-1") == first
        assert uow.payments.get_by_gateway_id("sandbox", "pi_1") == first
        assert uow.payments.get_by_gateway_id("stripe", "pi_1") is None
        assert len(uow.payments.list(invoice_id=invoice_id)) == 3
        updated = first.model_copy(update={"status": PaymentStatus.SUCCEEDED, "attempt": 2})
        assert uow.payments.update(updated) == 2
        uow.commit()
    with storage.unit_of_work() as uow:
        assert [p.id for p in uow.payments.list(status=PaymentStatus.SUCCEEDED)] == [first.id]
    with storage.unit_of_work() as uow, pytest.raises(NotFoundError):
        uow.payments.add(payment(customer_id, "in_missing", "k-9"))
        uow.commit()


def test_created_since_lists_recent_attempts_newest_first(storage: Storage) -> None:
    customer_id, invoice_id = seed(storage)
    made = [
        payment(customer_id, invoice_id, f"k-{hours}", created_at=NOW - timedelta(hours=hours))
        for hours in (30, 5, 1)
    ]
    with storage.unit_of_work() as uow:
        for item in made:
            uow.payments.add(item)
        uow.commit()
    with storage.unit_of_work() as uow:
        recent = uow.payments.created_since(NOW - timedelta(hours=24), 10)
    assert [p.idempotency_key for p in recent] == ["k-1", "k-5"]


def test_due_dunning_states_are_active_and_ordered(storage: Storage) -> None:
    customer_id, _ = seed(storage)
    invoices = [
        Invoice(id=new_id("in"), customer_id=customer_id, currency="USD", created_at=NOW)
        for _ in range(3)
    ]
    states = [
        DunningState(
            id=invoices[0].id,
            customer_id=customer_id,
            next_retry_at=NOW + timedelta(days=3),
            updated_at=NOW,
        ),
        DunningState(
            id=invoices[1].id,
            customer_id=customer_id,
            next_retry_at=NOW + timedelta(days=1),
            updated_at=NOW,
        ),
        DunningState(
            id=invoices[2].id,
            customer_id=customer_id,
            status=DunningStatus.RECOVERED,
            next_retry_at=NOW,
            updated_at=NOW,
        ),
    ]
    with storage.unit_of_work() as uow:
        for invoice in invoices:
            uow.invoices.add(invoice)
        for state in states:
            uow.dunning.add(state)
        uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.dunning.due(NOW, 10) == []
        assert [s.id for s in uow.dunning.due(NOW + timedelta(days=5), 10)] == [
            invoices[1].id,
            invoices[0].id,
        ]


def test_payment_methods_and_gateway_customers(storage: Storage) -> None:
    customer_id, _ = seed(storage)
    method = StoredPaymentMethod(
        id=new_id("pmr"),
        customer_id=customer_id,
        gateway="stripe",
        token="pm_1",
        brand="visa",
        last4="4242",
        exp_month=12,
        exp_year=2030,
        created_at=NOW,
    )
    link = GatewayCustomerLink(
        id=new_id("gcus"),
        customer_id=customer_id,
        gateway="stripe",
        gateway_customer_id="cus_1",
        created_at=NOW,
    )
    with storage.unit_of_work() as uow:
        uow.payment_methods.add(method)
        uow.gateway_customers.add(link)
        uow.commit()
    with storage.unit_of_work() as uow, pytest.raises(AlreadyExistsError):
        uow.payment_methods.add(method.model_copy(update={"id": new_id("pmr")}))
        uow.commit()
    with storage.unit_of_work() as uow, pytest.raises(AlreadyExistsError):
        uow.gateway_customers.add(link.model_copy(update={"id": new_id("gcus")}))
        uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.payment_methods.get_by_token("stripe", "pm_1") == method
        assert uow.gateway_customers.get_for(customer_id, "stripe") == link
        assert uow.gateway_customers.get_for(customer_id, "paypal") is None
        uow.payment_methods.update(method.model_copy(update={"active": False}))
        uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.payment_methods.list(customer_id=customer_id) == []
        assert len(uow.payment_methods.list(customer_id=customer_id, active=None)) == 1


def test_one_collecting_attempt_per_invoice(storage: Storage) -> None:
    customer_id, invoice_id = seed(storage)
    unsent = PaymentStatus.REQUIRES_CONFIRMATION
    first = payment(customer_id, invoice_id, "c-1", status=unsent)
    with storage.unit_of_work() as uow:
        uow.payments.add(first)
        uow.commit()
    with storage.unit_of_work() as uow, pytest.raises(AlreadyExistsError):
        uow.payments.add(payment(customer_id, invoice_id, "c-2", status=unsent))
        uow.commit()
    with storage.unit_of_work() as uow:  # once it ended, a new attempt may start
        uow.payments.update(first.model_copy(update={"status": PaymentStatus.FAILED}))
        uow.payments.add(payment(customer_id, invoice_id, "c-3", status=unsent))
        uow.commit()
        assert len(uow.payments.list(invoice_id=invoice_id)) == 2


def test_the_rest_of_a_partly_paid_invoice_gets_a_slot_of_its_own(storage: Storage) -> None:
    customer_id, invoice_id = seed(storage)
    captured = payment(customer_id, invoice_id, "c-1", status=PaymentStatus.SUCCEEDED)
    unsent = PaymentStatus.REQUIRES_CONFIRMATION
    with storage.unit_of_work() as uow:
        uow.payments.add(captured)
        uow.commit()
    # A racer that read the invoice before the capture was settled wants the same slot.
    with storage.unit_of_work() as uow, pytest.raises(AlreadyExistsError):
        uow.payments.add(payment(customer_id, invoice_id, "c-2", status=unsent))
        uow.commit()
    # The attempt for the rest starts from the amount paid since: a slot of its own, once.
    rest = payment(customer_id, invoice_id, "c-3", status=unsent, collects_from=2000)
    with storage.unit_of_work() as uow:
        uow.payments.add(rest)
        uow.commit()
    with storage.unit_of_work() as uow, pytest.raises(AlreadyExistsError):
        uow.payments.add(payment(customer_id, invoice_id, "c-4", status=unsent, collects_from=2000))
        uow.commit()
    with storage.unit_of_work() as uow:
        assert len(uow.payments.list(invoice_id=invoice_id)) == 2
