"""A learner buys a course through the real Stripe and PayPal SDKs, with each provider's HTTP
API mocked by `responses` (payloads shaped like the providers' API references): the invoice
is paid only after the payment was re-read from the provider, a receipt is issued and the
settlement (currency, FX rate, fee) is recorded; 3-D Secure / PayPal approval then confirm;
a Stripe decline; a Stripe webhook that pays after verification; a Stripe refund."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import responses

from lms_billing.domain.fraud import FraudOutcome
from lms_billing.domain.invoices import InvoiceStatus
from lms_billing.domain.payments import PaymentStatus, RefundStatus, RiskLevel

from .support import PAYPAL, STRIPE, Shop, invoice_in, pp, sp, stripe_signed

INTENT_URL = f"{STRIPE}/v1/payment_intents/{sp.PAYMENT_INTENT_SUCCEEDED['id']}"
ORDER_URL = f"{PAYPAL}/v2/checkout/orders/{pp.ORDER_ID}"


def form(call: Any) -> dict[str, list[str]]:
    body = call.request.body
    return parse_qs(body if isinstance(body, str) else body.decode())


# --- Stripe --------------------------------------------------------------------------------


def test_stripe_saved_card_pays_and_records_settlement_and_radar(
    shop: Shop, mock: responses.RequestsMock
) -> None:
    mock.post(f"{STRIPE}/v1/customers", json=sp.CUSTOMER)
    mock.post(
        f"{STRIPE}/v1/payment_methods/{sp.PAYMENT_METHOD['id']}/attach", json=sp.PAYMENT_METHOD
    )
    method = shop.billing.payments.attach_payment_method(
        shop.customer.id, sp.PAYMENT_METHOD["id"], gateway="stripe", idempotency_key="pm-1"
    )
    assert (method.gateway, method.brand, method.last4) == ("stripe", "visa", "4242")
    invoice = invoice_in(shop, "EUR", 2000)
    mock.post(f"{STRIPE}/v1/payment_intents", json=sp.PAYMENT_INTENT_SUCCEEDED)
    verify = mock.get(INTENT_URL, json=sp.PAYMENT_INTENT_SUCCEEDED)

    payment = shop.billing.payments.pay_invoice(
        invoice.id, gateway="stripe", idempotency_key="buy-1"
    )
    sent = form(mock.calls[2])
    assert sent["customer"] == [sp.CUSTOMER["id"]]
    assert sent["payment_method"] == [sp.PAYMENT_METHOD["id"]]
    assert (sent["amount"], sent["currency"]) == (["2000"], ["eur"])
    assert mock.calls[2].request.headers["Idempotency-Key"] == f"{payment.id}:create"
    assert verify.call_count == 1  # re-read before the invoice was marked paid

    assert payment.status is PaymentStatus.SUCCEEDED and payment.verified
    assert shop.invoice(invoice.id).status is InvoiceStatus.PAID
    [receipt] = shop.billing.invoices.list_receipts(invoice_id=invoice.id)
    assert receipt.payment_id == sp.PAYMENT_INTENT_SUCCEEDED["id"]
    settlement = payment.settlement
    assert settlement is not None
    assert (settlement.currency, settlement.amount, settlement.fee, settlement.net) == (
        "USD",
        2171,
        93,
        2078,
    )
    assert settlement.exchange_rate == Decimal("1.0853")
    assert payment.risk is not None and payment.risk.level is RiskLevel.ELEVATED
    # Radar's verdict, judged after authorisation: elevated risk goes to review.
    assert payment.fraud.outcome is FraudOutcome.REVIEW
    assert [r.code for r in payment.fraud.reasons] == ["provider_risk_elevated"]
    assert shop.log.count("payment.review") == 1


def test_stripe_three_d_secure_then_a_verified_webhook_pays(
    shop: Shop, mock: responses.RequestsMock
) -> None:
    invoice = invoice_in(shop, "EUR", 2000)
    mock.post(f"{STRIPE}/v1/payment_intents", json=sp.PAYMENT_INTENT_REQUIRES_ACTION)
    started = shop.billing.payments.pay_invoice(
        invoice.id, gateway="stripe", payment_method="pm_card_threeDSecure2Required",
        idempotency_key="3ds",
    )  # fmt: skip
    assert started.status is PaymentStatus.REQUIRES_ACTION
    assert started.next_action is not None and started.next_action.type == "use_stripe_sdk"
    assert started.next_action.client_secret is not None

    # The customer authenticated in Stripe.js; Stripe reports it by webhook.
    mock.get(INTENT_URL, json=sp.PAYMENT_INTENT_SUCCEEDED)
    event = sp.event("payment_intent.succeeded", sp.PAYMENT_INTENT_SUCCEEDED)
    payload, headers = stripe_signed(event, shop.clock.now())
    outcome = shop.billing.payments.handle_webhook("stripe", payload, headers)
    assert (outcome.action, outcome.payment_id) == ("payment_synced", started.id)
    assert shop.invoice(invoice.id).status is InvoiceStatus.PAID
    # The same event again, and a late "processing" one, change nothing.
    assert shop.billing.payments.handle_webhook("stripe", payload, headers).duplicate
    late = sp.event(
        "payment_intent.processing", sp.intent(status="processing"), event_id="evt_late"
    )
    assert (
        shop.billing.payments.handle_webhook(
            "stripe", *stripe_signed(late, shop.clock.now())
        ).action
        == "stale"
    )
    assert shop.billing.payments.get(started.id).status is PaymentStatus.SUCCEEDED
    # confirm_payment after the webhook only syncs.
    confirmed = shop.billing.payments.confirm_payment(started.id, idempotency_key="c")
    assert confirmed.receipt_id is not None
    assert len(shop.billing.invoices.list_receipts(invoice_id=invoice.id)) == 1


def test_stripe_card_entered_at_checkout_is_looked_up_for_fraud_rules(
    shop: Shop, mock: responses.RequestsMock
) -> None:
    invoice = invoice_in(shop, "EUR", 2000)
    card = dict(sp.PAYMENT_METHOD, card=dict(sp.PAYMENT_METHOD["card"], country="GB"))
    lookup = mock.get(f"{STRIPE}/v1/payment_methods/{card['id']}", json=card)
    mock.post(f"{STRIPE}/v1/payment_intents", json=sp.PAYMENT_INTENT_SUCCEEDED)
    mock.get(INTENT_URL, json=sp.PAYMENT_INTENT_SUCCEEDED)
    payment = shop.billing.payments.pay_invoice(
        invoice.id, gateway="stripe", payment_method=card["id"], idempotency_key="gb-1"
    )
    assert lookup.call_count == 1 and mock.calls[0].request.method == "GET"  # before paying
    assert payment.card_fingerprint == "Xt5EWLLDS7FJjR1c"
    assert [r.code for r in payment.fraud.reasons][:1] == ["country_mismatch"]


def test_stripe_decline_is_recorded_with_its_code(shop: Shop, mock: responses.RequestsMock) -> None:
    invoice = invoice_in(shop, "EUR", 2000)
    mock.post(f"{STRIPE}/v1/payment_intents", status=402, json=sp.card_error("insufficient_funds"))
    payment = shop.billing.payments.pay_invoice(
        invoice.id, gateway="stripe", payment_method="pm_x", idempotency_key="d-1"
    )
    assert payment.status is PaymentStatus.FAILED
    assert payment.decline_code == "insufficient_funds"
    assert shop.invoice(invoice.id).status is InvoiceStatus.OPEN


def test_stripe_radar_block_is_recorded_with_its_reason(
    shop: Shop, mock: responses.RequestsMock
) -> None:
    invoice = invoice_in(shop, "EUR", 2000)
    blocked = sp.card_error("fraudulent")
    outcome = {
        "risk_level": "highest",
        "risk_score": 91,
        "type": "blocked",
        "reason": "highest_risk_level",
    }
    blocked["error"]["payment_intent"]["latest_charge"] = dict(
        sp.CHARGE, status="failed", paid=False, captured=False, amount_captured=0,
        balance_transaction=None, outcome=outcome,
    )  # fmt: skip
    mock.post(f"{STRIPE}/v1/payment_intents", status=402, json=blocked)
    payment = shop.billing.payments.pay_invoice(
        invoice.id, gateway="stripe", payment_method="pm_x", idempotency_key="radar-1"
    )
    assert (payment.status, payment.decline_code) == (PaymentStatus.FAILED, "fraudulent")
    assert payment.risk is not None and payment.risk.outcome_type == "blocked"
    assert payment.fraud.outcome is FraudOutcome.BLOCK
    [reason] = payment.fraud.reasons
    assert (reason.rule, reason.code) == ("provider_risk", "provider_risk_highest")
    assert shop.log.count("payment.blocked") == 1


def test_stripe_refund_issues_a_credit_note(shop: Shop, mock: responses.RequestsMock) -> None:
    invoice = invoice_in(shop, "EUR", 2000)
    mock.post(f"{STRIPE}/v1/payment_intents", json=sp.PAYMENT_INTENT_SUCCEEDED)
    mock.get(INTENT_URL, json=sp.PAYMENT_INTENT_SUCCEEDED)
    payment = shop.billing.payments.pay_invoice(
        invoice.id, gateway="stripe", payment_method=sp.PAYMENT_METHOD["id"], idempotency_key="b"
    )
    refund_call = mock.post(f"{STRIPE}/v1/refunds", json=sp.REFUND)
    refund = shop.billing.payments.refund(payment.id, 500, idempotency_key="rf-1")
    sent = form(refund_call.calls[0])
    assert (sent["payment_intent"], sent["amount"]) == (
        [sp.PAYMENT_INTENT_SUCCEEDED["id"]],
        ["500"],
    )
    assert refund_call.calls[0].request.headers["Idempotency-Key"] == f"{refund.id}:refund"
    assert refund.status is RefundStatus.SUCCEEDED
    assert refund.gateway_refund_id == sp.REFUND["id"]
    note = shop.billing.invoices.get_credit_note(refund.credit_note_id or "")
    assert (note.total, note.refund_amount, note.currency) == (500, 500, "EUR")
    # A replay does not call Stripe again.
    assert shop.billing.payments.refund(payment.id, 500, idempotency_key="rf-1") == refund
    assert refund_call.call_count == 1


def test_stripe_pending_refund_settled_by_webhook_is_announced_once(
    shop: Shop, mock: responses.RequestsMock
) -> None:
    # Bank-debit and some card refunds start `pending`; Stripe reports the outcome later with
    # `refund.updated`. The outcome is recorded and announced exactly once, like a direct one.
    invoice = invoice_in(shop, "EUR", 2000)
    mock.post(f"{STRIPE}/v1/payment_intents", json=sp.PAYMENT_INTENT_SUCCEEDED)
    mock.get(INTENT_URL, json=sp.PAYMENT_INTENT_SUCCEEDED)
    payment = shop.billing.payments.pay_invoice(
        invoice.id, gateway="stripe", payment_method=sp.PAYMENT_METHOD["id"], idempotency_key="b"
    )
    mock.post(f"{STRIPE}/v1/refunds", json=dict(sp.REFUND, status="pending"))
    refund = shop.billing.payments.refund(payment.id, 500, idempotency_key="rf-1")
    assert refund.status is RefundStatus.PENDING
    assert shop.log.count("refund.succeeded") == 0

    settled = sp.event("refund.updated", dict(sp.REFUND, status="succeeded"), "evt_rf_1")
    delivery = stripe_signed(settled, shop.clock.now())
    outcome = shop.billing.payments.handle_webhook("stripe", *delivery)
    assert (outcome.action, outcome.payment_id) == ("refund_updated", payment.id)
    assert shop.billing.payments.get_refund(refund.id).status is RefundStatus.SUCCEEDED
    assert shop.log.count("refund.succeeded") == 1
    assert shop.billing.payments.handle_webhook("stripe", *delivery).duplicate
    assert shop.log.count("refund.succeeded") == 1


# --- PayPal --------------------------------------------------------------------------------


def test_paypal_approval_then_capture_pays_the_invoice(
    shop: Shop, mock: responses.RequestsMock
) -> None:
    mock.post(f"{PAYPAL}/v1/oauth2/token", json=pp.TOKEN)
    invoice = invoice_in(shop, "USD", 10000)
    mock.post(f"{PAYPAL}/v2/checkout/orders", json=pp.PAYER_ACTION_REQUIRED)
    started = shop.billing.payments.pay_invoice(
        invoice.id,
        gateway="paypal",
        idempotency_key="pp-1",
        return_url="https://lms.example/paypal/return",
    )
    assert started.status is PaymentStatus.REQUIRES_ACTION
    assert started.next_action is not None and started.next_action.type == "approve"
    assert started.next_action.url == f"https://www.paypal.com/checkoutnow?token={pp.ORDER_ID}"
    assert shop.invoice(invoice.id).status is InvoiceStatus.OPEN

    # The buyer approved at PayPal and came back to the return URL.
    mock.get(ORDER_URL, json=pp.order("APPROVED"))  # our re-read
    mock.get(ORDER_URL, json=pp.order("APPROVED"))  # the gateway's, before capturing
    capture = mock.post(f"{ORDER_URL}/capture", json=pp.CAPTURED, status=201)
    mock.get(ORDER_URL, json=pp.captured_order())  # verification before marking paid
    paid = shop.billing.payments.confirm_payment(started.id, idempotency_key="approved")
    assert capture.calls[0].request.headers["PayPal-Request-Id"] == f"{started.id}:confirm:approved"
    assert paid.status is PaymentStatus.SUCCEEDED and paid.receipt_id is not None
    assert shop.invoice(invoice.id).status is InvoiceStatus.PAID
    settlement = paid.settlement
    assert settlement is not None
    assert (settlement.amount, settlement.fee, settlement.net, settlement.currency) == (
        10000,
        398,
        9602,
        "USD",
    )


def test_paypal_refused_vault_charge_is_a_failed_payment_and_frees_the_invoice(
    shop: Shop, mock: responses.RequestsMock
) -> None:
    mock.post(f"{PAYPAL}/v1/oauth2/token", json=pp.TOKEN)
    invoice = invoice_in(shop, "USD", 10000)
    mock.post(
        f"{PAYPAL}/v2/checkout/orders", json=pp.unprocessable("INSTRUMENT_DECLINED"), status=422
    )
    declined = shop.billing.payments.pay_invoice(
        invoice.id, gateway="paypal", payment_method="8kk8451t", off_session=True,
        idempotency_key="renew-1",
    )  # fmt: skip
    assert (declined.status, declined.decline_code) == (
        PaymentStatus.FAILED,
        "instrument_declined",
    )
    assert not declined.collecting and declined.receipt_id is None
    assert shop.billing.payments.pay_invoice(
        invoice.id, gateway="paypal", payment_method="8kk8451t", off_session=True,
        idempotency_key="renew-1",
    ) == declined  # fmt: skip
    # The invoice is free for the next attempt (here the learner's card in the sandbox).
    paid = shop.billing.payments.pay_invoice(
        invoice.id, payment_method="pm_card_visa", idempotency_key="renew-2"
    )
    assert paid.status is PaymentStatus.SUCCEEDED and paid.attempt == 2
    assert shop.invoice(invoice.id).status is InvoiceStatus.PAID
