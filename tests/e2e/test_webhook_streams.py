"""A duplicated and reordered webhook stream changes nothing twice, for the sandbox, Stripe
and PayPal, through `Billing` on SQLite and PostgreSQL. Each stream is delivered once out of
order (the money moves exactly once, verified by re-reading the payment from the provider),
then again, shuffled, with every event duplicated: the stored state stays exactly the same,
one receipt, one credit note, one `invoice.paid`."""

from __future__ import annotations

import copy
import random

import responses

from lms_billing.domain.invoices import InvoiceStatus
from lms_billing.domain.payments import PaymentStatus, RefundStatus

from .support import (
    PAYPAL,
    STRIPE,
    Shop,
    invoice_in,
    paypal_delivery,
    paypal_order,
    pp,
    sandbox_of,
    sp,
    stripe_signed,
)

Delivery = tuple[bytes, dict[str, str]]


def redeliver_shuffled(shop: Shop, gateway: str, stream: list[Delivery], seed: int) -> list[str]:
    """Every delivery twice, in a shuffled order; returns what handling each did."""
    again = stream * 2
    random.Random(seed).shuffle(again)
    return [shop.billing.payments.handle_webhook(gateway, *d).action for d in again]


def assert_settled_once(shop: Shop, invoice_id: str) -> None:
    assert shop.invoice(invoice_id).status is InvoiceStatus.PAID
    assert len(shop.billing.invoices.list_receipts(invoice_id=invoice_id)) == 1
    assert len(shop.billing.invoices.list_credit_notes(invoice_id=invoice_id)) == 1
    assert shop.log.count("invoice.paid") == 1


def test_sandbox_stream(shop: Shop) -> None:
    sandbox = sandbox_of(shop)
    payments = shop.billing.payments
    invoice = shop.open_invoice()
    started = payments.pay_invoice(
        invoice.id, idempotency_key="3ds", payment_method="pm_card_threeDSecureRequired"
    )
    sandbox.complete_authentication(started.gateway_payment_id or "")
    stream = [(w.payload, w.headers) for w in sandbox.take_webhooks()]
    kinds = [sandbox.parse_webhook(*d).type.value for d in stream]
    assert kinds == ["payment.requires_action", "payment.succeeded"]
    for delivery in reversed(stream):  # succeeded first, the older event late
        payments.handle_webhook("sandbox", *delivery)
    assert payments.get(started.id).status is PaymentStatus.SUCCEEDED

    refund = payments.refund(started.id, 900, idempotency_key="rf")
    stream += [(w.payload, w.headers) for w in sandbox.take_webhooks()]
    before = shop.stored()
    actions = redeliver_shuffled(shop, "sandbox", stream, seed=6)
    assert set(actions) <= {"duplicate", "stale"}
    assert shop.stored() == before
    assert payments.get_refund(refund.id).status is RefundStatus.SUCCEEDED
    assert_settled_once(shop, invoice.id)


def test_stripe_stream(shop: Shop, mock: responses.RequestsMock) -> None:
    payments = shop.billing.payments
    now = shop.clock.now
    invoice = invoice_in(shop, "EUR", 2000)
    mock.post(f"{STRIPE}/v1/payment_intents", json=sp.PAYMENT_INTENT_REQUIRES_ACTION)
    started = payments.pay_invoice(
        invoice.id, gateway="stripe", payment_method="pm_card_threeDSecure2Required",
        idempotency_key="3ds",
    )  # fmt: skip
    assert started.status is PaymentStatus.REQUIRES_ACTION
    reread = mock.get(
        f"{STRIPE}/v1/payment_intents/{sp.PAYMENT_INTENT_SUCCEEDED['id']}",
        json=sp.PAYMENT_INTENT_SUCCEEDED,
    )
    processing = sp.intent(status="processing", amount_received=0)
    stream = [
        stripe_signed(sp.event(kind, obj, event_id), now())
        for kind, obj, event_id in [
            ("payment_intent.requires_action", sp.PAYMENT_INTENT_REQUIRES_ACTION, "evt_1"),
            ("payment_intent.succeeded", sp.PAYMENT_INTENT_SUCCEEDED, "evt_2"),
            ("payment_intent.processing", processing, "evt_3"),  # a late one
            ("charge.succeeded", sp.CHARGE, "evt_4"),
        ]
    ]
    for delivery in [stream[1], stream[0], stream[2], stream[3]]:
        payments.handle_webhook("stripe", *delivery)
    paid = payments.get(started.id)
    assert paid.status is PaymentStatus.SUCCEEDED and paid.verified
    assert reread.call_count == 2  # the succeeded event's re-read, then the verification

    mock.post(f"{STRIPE}/v1/refunds", json=sp.REFUND)
    refund = payments.refund(started.id, 500, idempotency_key="rf")
    refunded_charge = dict(sp.CHARGE, amount_refunded=500)
    stream += [
        stripe_signed(sp.event("refund.created", sp.REFUND, "evt_5"), now()),
        stripe_signed(sp.event("charge.refunded", refunded_charge, "evt_6"), now()),
    ]
    before = shop.stored()
    actions = redeliver_shuffled(shop, "stripe", stream, seed=7)
    assert set(actions) <= {"duplicate", "stale", "ignored"}
    assert "stale" in actions  # the refund event arrived after the refund was recorded
    assert shop.stored() == before
    assert reread.call_count == 2  # nothing was re-read again: nothing could change
    assert payments.get_refund(refund.id).status is RefundStatus.SUCCEEDED
    assert_settled_once(shop, invoice.id)


def test_paypal_stream(shop: Shop, mock: responses.RequestsMock) -> None:
    payments = shop.billing.payments
    now = shop.clock.now
    mock.post(f"{PAYPAL}/v1/oauth2/token", json=pp.TOKEN)
    verify = mock.post(
        f"{PAYPAL}/v1/notifications/verify-webhook-signature",
        json={"verification_status": "SUCCESS"},
    )
    invoice = invoice_in(shop, "USD", 10000)
    # A vaulted PayPal payment whose capture is pending (an eCheck clearing).
    mock.post(
        f"{PAYPAL}/v2/checkout/orders", json=paypal_order("100.00", capture="PENDING"), status=201
    )
    started = payments.pay_invoice(
        invoice.id, gateway="paypal", payment_method="8kk8451t", idempotency_key="pp-1"
    )
    assert started.status is PaymentStatus.PROCESSING
    order = paypal_order("100.00")
    mock.get(f"{PAYPAL}/v2/checkout/orders/{pp.ORDER_ID}", json=order)

    def capture_event(event_type: str, status: str, event_id: str) -> Delivery:
        event = copy.deepcopy(pp.WEBHOOK_CAPTURE_COMPLETED)
        event.update(id=event_id, event_type=event_type)
        event["resource"]["status"] = status
        event["resource"]["supplementary_data"]["related_ids"]["order_id"] = pp.ORDER_ID
        return paypal_delivery(event, now())

    stream = [
        capture_event("PAYMENT.CAPTURE.PENDING", "PENDING", "WH-PENDING-1"),
        capture_event("PAYMENT.CAPTURE.COMPLETED", "COMPLETED", "WH-COMPLETED-1"),
    ]
    for delivery in reversed(stream):  # completed first, pending late
        payments.handle_webhook("paypal", *delivery)
    assert payments.get(started.id).status is PaymentStatus.SUCCEEDED
    assert shop.invoice(invoice.id).status is InvoiceStatus.PAID

    # A refund documented by a credit note; PayPal reports it by webhook too.
    refund_call = mock.post(
        f"{PAYPAL}/v2/payments/captures/{pp.CAPTURE_ID}/refund", json=pp.REFUND, status=201
    )
    refund = payments.refund(started.id, 1000, idempotency_key="rf-1")
    assert refund.status is RefundStatus.SUCCEEDED and refund.gateway_refund_id == pp.REFUND["id"]
    assert refund_call.calls[0].request.headers["PayPal-Request-Id"] == f"{refund.id}:refund"
    note = shop.billing.invoices.get_credit_note(refund.credit_note_id or "")
    assert (note.total, note.refund_amount, note.currency) == (1000, 1000, "USD")
    refunded = copy.deepcopy(pp.WEBHOOK_CAPTURE_REFUNDED)
    refunded["resource"]["id"] = pp.REFUND["id"]
    stream.append(paypal_delivery(refunded, now()))

    before = shop.stored()
    actions = redeliver_shuffled(shop, "paypal", stream, seed=8)
    assert set(actions) <= {"duplicate", "stale"} and "stale" in actions
    assert shop.stored() == before
    assert verify.call_count == 2 + 6  # PayPal verified every delivery, duplicates included
    assert_settled_once(shop, invoice.id)
