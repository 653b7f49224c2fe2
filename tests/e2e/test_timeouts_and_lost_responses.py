"""A provider timeout never charges twice and never loses a charge, through `Billing` on
SQLite and PostgreSQL: the attempt is retried with the same idempotency key (the provider
replays its first answer), and when the provider charged but its answer was lost, the
provider's webhook finds the attempt by the reference it echoes (`lms_payment_id` in
Stripe's metadata, PayPal's `custom_id`) and adopts the payment after re-reading it."""

from __future__ import annotations

import copy
import json

import pytest
import requests
import responses

from lms_billing.domain.invoices import InvoiceStatus
from lms_billing.domain.payments import PaymentRequest, PaymentStatus
from lms_billing.errors import ProviderUnavailableError

from .support import (
    PAYPAL,
    STRIPE,
    Shop,
    invoice_in,
    paypal_delivery,
    pp,
    sandbox_of,
    sp,
    stripe_signed,
)

INTENTS = f"{STRIPE}/v1/payment_intents"
INTENT_URL = f"{INTENTS}/{sp.PAYMENT_INTENT_SUCCEEDED['id']}"
ORDERS = f"{PAYPAL}/v2/checkout/orders"
VERIFY = f"{PAYPAL}/v1/notifications/verify-webhook-signature"


def test_sandbox_timeout_then_success_with_the_same_key_charges_once(shop: Shop) -> None:
    sandbox = sandbox_of(shop)
    invoice = shop.open_invoice()
    sandbox.fail_next(after_charge=True)  # charged, but the answer never came back
    with pytest.raises(ProviderUnavailableError):
        shop.billing.payments.pay_invoice(
            invoice.id, idempotency_key="buy-1", payment_method="pm_card_visa"
        )
    [unsent] = shop.billing.payments.list(invoice_id=invoice.id)
    assert unsent.status is PaymentStatus.REQUIRES_CONFIRMATION and unsent.collecting
    assert len(sandbox.list_balance_transactions()) == 1  # the money moved

    paid = shop.billing.payments.pay_invoice(
        invoice.id, idempotency_key="buy-1", payment_method="pm_card_visa"
    )
    assert paid.id == unsent.id and paid.status is PaymentStatus.SUCCEEDED
    assert sandbox.create_calls == 2
    assert len(sandbox.list_balance_transactions()) == 1  # replayed, not charged again
    assert len(shop.billing.invoices.list_receipts(invoice_id=invoice.id)) == 1
    assert shop.invoice(invoice.id).amount_paid == 4900


def test_sandbox_lost_answer_is_adopted_from_the_webhook(shop: Shop) -> None:
    sandbox = sandbox_of(shop)
    invoice = shop.open_invoice()
    sandbox.fail_next(after_charge=True)
    with pytest.raises(ProviderUnavailableError):
        shop.billing.payments.pay_invoice(
            invoice.id, idempotency_key="buy-1", payment_method="pm_card_visa"
        )
    [succeeded] = [w for w in sandbox.take_webhooks() if w.event["type"] == "payment.succeeded"]
    outcome = shop.billing.payments.handle_webhook("sandbox", succeeded.payload, succeeded.headers)
    [payment] = shop.billing.payments.list(invoice_id=invoice.id)
    assert (outcome.action, outcome.payment_id) == ("payment_synced", payment.id)
    assert payment.gateway_payment_id == succeeded.event["data"]["object"]["id"]
    assert payment.verified and shop.invoice(invoice.id).status is InvoiceStatus.PAID
    # The redelivery changes nothing; the caller's retry returns the settled payment.
    again = shop.billing.payments.handle_webhook("sandbox", succeeded.payload, succeeded.headers)
    assert again.duplicate
    retried = shop.billing.payments.pay_invoice(
        invoice.id, idempotency_key="buy-1", payment_method="pm_card_visa"
    )
    assert retried == shop.billing.payments.get(payment.id)
    assert len(sandbox.list_balance_transactions()) == 1


def test_a_webhook_naming_our_attempt_for_a_foreign_payment_is_refused(shop: Shop) -> None:
    sandbox = sandbox_of(shop)
    invoice = shop.open_invoice()
    # A charge someone made at the provider outside lms-billing (another amount).
    sandbox.create_payment(
        PaymentRequest(
            amount=100, currency="USD", payment_method="pm_card_visa", idempotency_key="x"
        )
    )
    foreign = next(w for w in sandbox.take_webhooks() if w.event["type"] == "payment.succeeded")
    sandbox.fail_next()
    with pytest.raises(ProviderUnavailableError):
        shop.billing.payments.pay_invoice(
            invoice.id, idempotency_key="buy-1", payment_method="pm_card_visa"
        )
    [ours] = shop.billing.payments.list(invoice_id=invoice.id)
    # Validly signed, claiming our unsent attempt, but naming the other invoice's payment.
    forged = copy.deepcopy(foreign.event)
    forged["id"] = "evt_forged_1"
    forged["data"]["object"]["metadata"]["lms_payment_id"] = ours.id
    body = json.dumps(forged).encode()
    outcome = shop.billing.payments.handle_webhook("sandbox", body, sandbox.sign(body))
    assert outcome.action == "mismatch"
    unchanged = shop.billing.payments.get(ours.id)
    assert unchanged.gateway_payment_id is None and unchanged.status is ours.status
    assert shop.invoice(invoice.id).status is InvoiceStatus.OPEN


def test_an_event_naming_no_provider_payment_is_left_for_redelivery(shop: Shop) -> None:
    sandbox = sandbox_of(shop)
    invoice = shop.open_invoice()
    sandbox.fail_next()
    with pytest.raises(ProviderUnavailableError):
        shop.billing.payments.pay_invoice(
            invoice.id, idempotency_key="buy-1", payment_method="pm_card_visa"
        )
    [ours] = shop.billing.payments.list(invoice_id=invoice.id)
    event = {
        "id": "evt_sbx_attempt_1",
        "object": "event",
        "type": "payment.succeeded",
        "created": int(shop.clock.now().timestamp()),
        "data": {"object": {"object": "attempt", "metadata": {"lms_payment_id": ours.id}}},
    }
    body = json.dumps(event).encode()
    for _ in range(2):  # not marked processed: the provider's redelivery is looked at again
        outcome = shop.billing.payments.handle_webhook("sandbox", body, sandbox.sign(body))
        assert (outcome.action, outcome.payment_id) == ("deferred", ours.id)
    with shop.billing.storage.unit_of_work() as uow:
        entry = uow.webhook_events.get_by_event("sandbox", "evt_sbx_attempt_1")
    assert entry is not None and entry.processed_at is None


# --- Stripe ----------------------------------------------------------------------------------


def test_stripe_timeout_retried_with_the_same_key_then_succeeding_charges_once(
    shop: Shop, mock: responses.RequestsMock
) -> None:
    invoice = invoice_in(shop, "EUR", 2000)
    mock.post(INTENTS, body=requests.ConnectionError("read timed out"))
    with pytest.raises(ProviderUnavailableError) as timeout:
        shop.billing.payments.pay_invoice(
            invoice.id, gateway="stripe", payment_method=sp.PAYMENT_METHOD["id"],
            idempotency_key="buy-1",
        )  # fmt: skip
    assert timeout.value.retryable
    [attempt] = shop.billing.payments.list(invoice_id=invoice.id)
    mock.replace(responses.POST, INTENTS, json=sp.PAYMENT_INTENT_SUCCEEDED)
    verify = mock.get(INTENT_URL, json=sp.PAYMENT_INTENT_SUCCEEDED)

    paid = shop.billing.payments.pay_invoice(
        invoice.id, gateway="stripe", payment_method=sp.PAYMENT_METHOD["id"],
        idempotency_key="buy-1",
    )  # fmt: skip
    keys = [c.request.headers["Idempotency-Key"] for c in mock.calls if c.request.method == "POST"]
    assert keys == [f"{attempt.id}:create"] * 2  # Stripe replays the first charge
    assert verify.call_count == 1
    assert paid.id == attempt.id and paid.status is PaymentStatus.SUCCEEDED
    assert len(shop.billing.invoices.list_receipts(invoice_id=invoice.id)) == 1
    assert shop.invoice(invoice.id).amount_paid == 2000


def test_stripe_lost_answer_is_adopted_from_the_webhook(
    shop: Shop, mock: responses.RequestsMock
) -> None:
    invoice = invoice_in(shop, "EUR", 2000)
    mock.post(INTENTS, body=requests.ConnectionError("read timed out"))
    with pytest.raises(ProviderUnavailableError):
        shop.billing.payments.pay_invoice(
            invoice.id, gateway="stripe", payment_method=sp.PAYMENT_METHOD["id"],
            idempotency_key="buy-1",
        )  # fmt: skip
    [attempt] = shop.billing.payments.list(invoice_id=invoice.id)
    # Stripe created and charged the intent; it echoes our references in its metadata.
    charged = sp.intent(metadata={"lms_payment_id": attempt.id, "lms_invoice_id": invoice.id})
    reread = mock.get(INTENT_URL, json=charged)
    payload, headers = stripe_signed(
        sp.event("payment_intent.succeeded", charged), shop.clock.now()
    )
    outcome = shop.billing.payments.handle_webhook("stripe", payload, headers)
    assert (outcome.action, outcome.payment_id) == ("payment_synced", attempt.id)
    adopted = shop.billing.payments.get(attempt.id)
    assert adopted.gateway_payment_id == charged["id"] and adopted.verified
    assert reread.call_count == 2  # adopted after a re-read, verified after another
    assert shop.invoice(invoice.id).status is InvoiceStatus.PAID


# --- PayPal ----------------------------------------------------------------------------------


def test_paypal_lost_answer_is_adopted_from_the_capture_webhook(
    shop: Shop, mock: responses.RequestsMock
) -> None:
    mock.post(f"{PAYPAL}/v1/oauth2/token", json=pp.TOKEN)
    invoice = invoice_in(shop, "USD", 10000)
    create = mock.post(ORDERS, body=requests.ConnectionError("read timed out"))
    with pytest.raises(ProviderUnavailableError):
        shop.billing.payments.pay_invoice(
            invoice.id, gateway="paypal", payment_method="8kk8451t", off_session=True,
            idempotency_key="renew-1",
        )  # fmt: skip
    [attempt] = shop.billing.payments.list(invoice_id=invoice.id)
    sent = json.loads(create.calls[0].request.body)
    custom_id = sent["purchase_units"][0]["custom_id"]
    assert custom_id == f"lms_invoice_id={invoice.id}&lms_payment_id={attempt.id}"

    # PayPal captured the order; the capture webhook echoes custom_id and names the order.
    order = pp.captured_order()
    order["purchase_units"][0]["custom_id"] = custom_id
    mock.get(f"{ORDERS}/{pp.ORDER_ID}", json=order)
    event = copy.deepcopy(pp.WEBHOOK_CAPTURE_COMPLETED)
    event["resource"]["custom_id"] = custom_id
    event["resource"]["supplementary_data"]["related_ids"]["order_id"] = pp.ORDER_ID
    verified = mock.post(VERIFY, json={"verification_status": "SUCCESS"})
    outcome = shop.billing.payments.handle_webhook(
        "paypal", *paypal_delivery(event, shop.clock.now())
    )
    assert (outcome.action, outcome.payment_id) == ("payment_synced", attempt.id)
    assert verified.call_count == 1
    adopted = shop.billing.payments.get(attempt.id)
    assert adopted.gateway_payment_id == pp.ORDER_ID and adopted.receipt_id is not None
    assert shop.invoice(invoice.id).status is InvoiceStatus.PAID
