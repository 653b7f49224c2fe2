"""Refunds with credit notes, never above what was paid; duplicated and reordered webhook
streams that change nothing twice; card data refused everywhere it could enter."""

from __future__ import annotations

import json
import threading

import pytest

from lms_billing.domain.invoices import InvoiceStatus
from lms_billing.domain.payment_records import Payment
from lms_billing.domain.payments import PaymentStatus, RefundStatus
from lms_billing.errors import (
    CardDataRejectedError,
    ConflictError,
    IdempotencyKeyMismatchError,
    InvalidAmountError,
    WebhookSignatureError,
)

from .support import Shop, sandbox_of

PAN = "4242 4242 4242 4242"


def paid_course(shop: Shop, key: str = "buy") -> Payment:
    invoice = shop.open_invoice()
    payment = shop.billing.payments.pay_invoice(
        invoice.id, idempotency_key=key, payment_method="pm_card_visa"
    )
    assert payment.status is PaymentStatus.SUCCEEDED
    return payment


# --- refunds -------------------------------------------------------------------------------


def test_partial_then_full_refund_issue_credit_notes_and_never_exceed_the_payment(
    shop: Shop,
) -> None:
    payments = shop.billing.payments
    payment = paid_course(shop)
    why = "requested_by_customer"
    first = payments.refund(payment.id, 1900, idempotency_key="rf-1", reason=why)
    assert first.status is RefundStatus.SUCCEEDED and first.amount == 1900
    assert first.gateway_refund_id is not None and first.credit_note_id is not None
    note = shop.billing.invoices.get_credit_note(first.credit_note_id)
    assert (note.invoice_id, note.total, note.refund_amount) == (payment.invoice_id, 1900, 1900)
    assert payments.get(payment.id).refundable_amount == 3000

    with pytest.raises(InvalidAmountError):
        payments.refund(payment.id, 3001, idempotency_key="rf-too-much")
    rest = payments.refund(payment.id, idempotency_key="rf-2")  # all that is left
    assert rest.amount == 3000 and rest.credit_note_id not in (None, first.credit_note_id)
    with pytest.raises(InvalidAmountError):
        payments.refund(payment.id, 1, idempotency_key="rf-3")

    assert payments.refund(payment.id, 1900, idempotency_key="rf-1", reason=why) == first
    with pytest.raises(IdempotencyKeyMismatchError):
        payments.refund(payment.id, 100, idempotency_key="rf-1")
    refunded = sandbox_of(shop).retrieve_payment(payment.gateway_payment_id or "")
    assert refunded.amount_refunded == 4900  # the gateway moved exactly what was paid
    assert [r.amount for r in payments.list_refunds(payment.id)] == [3000, 1900]
    notes = shop.billing.invoices.list_credit_notes(invoice_id=payment.invoice_id)
    assert sum(n.refund_amount for n in notes) == 4900
    assert shop.log.count("refund.succeeded") == 2


def test_refund_against_an_existing_credit_note_is_limited_by_it(shop: Shop) -> None:
    payment = paid_course(shop)
    note = shop.billing.invoices.create_credit_note(
        payment.invoice_id, amount=1000, refund_amount=1000, idempotency_key="cn-1"
    )
    with pytest.raises(InvalidAmountError):
        shop.billing.payments.refund(
            payment.id, 1500, credit_note_id=note.id, idempotency_key="rf-x"
        )
    refund = shop.billing.payments.refund(
        payment.id, 1000, credit_note_id=note.id, idempotency_key="rf-y"
    )
    assert refund.credit_note_id == note.id and refund.status is RefundStatus.SUCCEEDED
    # No new credit note was created for it.
    assert len(shop.billing.invoices.list_credit_notes(invoice_id=payment.invoice_id)) == 1


# --- webhooks ------------------------------------------------------------------------------


def test_duplicated_and_reordered_webhooks_change_nothing_twice(shop: Shop) -> None:
    payments = shop.billing.payments
    sandbox = sandbox_of(shop)
    invoice = shop.open_invoice()
    started = payments.pay_invoice(
        invoice.id, idempotency_key="3ds", payment_method="pm_card_threeDSecureRequired"
    )
    assert started.status is PaymentStatus.REQUIRES_ACTION
    sandbox.complete_authentication(started.gateway_payment_id or "")
    stream = [
        w for w in sandbox.take_webhooks() if w.event["data"]["object"]["object"] == "payment"
    ]
    assert [w.event["type"] for w in stream] == ["payment.requires_action", "payment.succeeded"]
    requires_action, succeeded = stream

    # No confirm_payment call: the succeeded webhook alone (verified with the gateway) pays.
    outcome = payments.handle_webhook("sandbox", succeeded.payload, succeeded.headers)
    assert (outcome.action, outcome.payment_id) == ("payment_synced", started.id)
    after_first = shop.stored()
    assert shop.invoice(invoice.id).status is InvoiceStatus.PAID

    # The older event arrives late, then everything again, in reverse order.
    for delivery in [requires_action, succeeded, requires_action, succeeded][::-1]:
        result = payments.handle_webhook("sandbox", delivery.payload, delivery.headers)
        assert result.action in ("duplicate", "stale")
    assert shop.stored() == after_first
    assert payments.get(started.id).status is PaymentStatus.SUCCEEDED
    assert len(shop.billing.invoices.list_receipts(invoice_id=invoice.id)) == 1
    assert shop.log.count("invoice.paid") == 1


def test_a_webhook_alone_never_marks_paid_without_the_gateway_agreeing(shop: Shop) -> None:
    sandbox = sandbox_of(shop)
    invoice = shop.open_invoice()
    started = shop.billing.payments.pay_invoice(
        invoice.id, idempotency_key="3ds", payment_method="pm_card_threeDSecureRequired"
    )
    [real] = [w for w in sandbox.take_webhooks() if w.event["type"] == "payment.requires_action"]
    # A validly signed event claiming success for a payment the gateway still holds.
    forged = real.event
    forged["id"], forged["type"] = "evt_forged", "payment.succeeded"
    forged["data"]["object"]["status"] = "succeeded"
    payload = json.dumps(forged).encode()
    outcome = shop.billing.payments.handle_webhook("sandbox", payload, sandbox.sign(payload))
    assert outcome.action == "payment_synced"
    assert shop.billing.payments.get(started.id).status is PaymentStatus.REQUIRES_ACTION
    assert shop.invoice(invoice.id).status is InvoiceStatus.OPEN


def test_unsigned_or_tampered_webhooks_are_rejected_and_not_stored(shop: Shop) -> None:
    paid_course(shop)
    [delivery, *_] = sandbox_of(shop).take_webhooks()
    with pytest.raises(WebhookSignatureError):
        shop.billing.payments.handle_webhook("sandbox", delivery.payload + b" ", delivery.headers)
    with pytest.raises(WebhookSignatureError):
        shop.billing.payments.handle_webhook("sandbox", delivery.payload, {})
    with shop.billing.storage.unit_of_work() as uow:
        assert uow.webhook_events.get_by_event("sandbox", delivery.event["id"]) is None


def test_refund_webhooks_after_the_refund_change_nothing(shop: Shop) -> None:
    payment = paid_course(shop)
    sandbox = sandbox_of(shop)
    sandbox.take_webhooks()
    shop.billing.payments.refund(payment.id, 500, idempotency_key="rf")
    before = shop.stored()
    for delivery in sandbox.take_webhooks() * 2:
        shop.billing.payments.handle_webhook("sandbox", delivery.payload, delivery.headers)
    assert shop.stored() == before


# --- card data -----------------------------------------------------------------------------


def test_card_numbers_are_refused_everywhere_and_nothing_is_stored(shop: Shop) -> None:
    payments = shop.billing.payments
    invoice = shop.open_invoice()
    before = shop.stored()
    attempts = [
        lambda: payments.attach_payment_method(shop.customer.id, PAN, idempotency_key="a"),
        lambda: payments.attach_payment_method(
            shop.customer.id, "pm_card_visa", idempotency_key=f"key {PAN}"
        ),
        lambda: payments.pay_invoice(invoice.id, idempotency_key="p", payment_method=PAN),
        lambda: payments.pay_invoice(
            invoice.id,
            idempotency_key="p2",
            payment_method="pm_card_visa",
            metadata={"note": f"card {PAN}"},
        ),
    ]
    for attempt in attempts:
        with pytest.raises(CardDataRejectedError):
            attempt()
    assert shop.stored() == before
    payment = paid_course(shop, key="ok")
    with pytest.raises(CardDataRejectedError):
        payments.refund(payment.id, 100, idempotency_key=f"refund {PAN}")
    assert PAN.replace(" ", "") not in json.dumps(shop.stored())


def test_a_refund_failing_after_it_succeeded_gives_the_amount_back(shop: Shop) -> None:
    payments = shop.billing.payments
    payment = paid_course(shop)
    sandbox = sandbox_of(shop)
    refund = payments.refund(payment.id, 4900, idempotency_key="rf-1")
    assert refund.status is RefundStatus.SUCCEEDED
    assert payments.get(payment.id).refundable_amount == 0
    sandbox.take_webhooks()

    # Days later the provider reports the refund failed (the card was closed).
    shop.clock.advance(days=3)
    sandbox.fail_refund(refund.gateway_refund_id or "")
    [failed] = sandbox.take_webhooks()
    outcome = payments.handle_webhook("sandbox", failed.payload, failed.headers)
    assert (outcome.action, outcome.payment_id) == ("refund_updated", payment.id)
    assert payments.get_refund(refund.id).status is RefundStatus.FAILED
    assert payments.get(payment.id).refundable_amount == 4900
    assert shop.log.count("refund.failed") == 1
    assert payments.handle_webhook("sandbox", failed.payload, failed.headers).duplicate

    # The money can be returned again, against the same credit note.
    again = payments.refund(
        payment.id, 4900, credit_note_id=refund.credit_note_id, idempotency_key="rf-2"
    )
    assert again.status is RefundStatus.SUCCEEDED and again.credit_note_id == refund.credit_note_id
    assert len(shop.billing.invoices.list_credit_notes(invoice_id=payment.invoice_id)) == 1


def test_concurrent_refunds_never_return_more_than_was_paid(shop: Shop) -> None:
    payment = paid_course(shop)
    barrier = threading.Barrier(3)
    outcomes: list[str] = []

    def refund(index: int) -> None:
        barrier.wait()
        try:
            done = shop.billing.payments.refund(payment.id, 3000, idempotency_key=f"race-{index}")
            outcomes.append(done.status.value)
        except (InvalidAmountError, ConflictError) as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=refund, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("succeeded") == 1, outcomes
    at_gateway = sandbox_of(shop).retrieve_payment(payment.gateway_payment_id or "")
    assert at_gateway.amount_refunded == 3000
    assert shop.billing.payments.get(payment.id).refundable_amount == 1900
    notes = shop.billing.invoices.list_credit_notes(invoice_id=payment.invoice_id)
    assert [n.refund_amount for n in notes] == [3000]
