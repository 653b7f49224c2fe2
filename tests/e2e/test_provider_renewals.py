"""A renewal fails and recovers through dunning with Stripe and PayPal (the real SDKs, HTTP
mocked with `responses`): the billing run notes the renewal invoice, `collect_due` charges
the saved method off session, a decline moves the subscription to past_due and schedules
the retry, the retry pays and the subscription is active again."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import responses

from lms_billing.domain.invoices import Invoice, InvoiceStatus
from lms_billing.domain.payment_records import DunningStatus
from lms_billing.domain.subscriptions import Subscription, SubscriptionStatus
from lms_billing.storage.base import MAX_LIST_LIMIT

from .support import (
    PAYPAL,
    STRIPE,
    Shop,
    paypal_order,
    pp,
    sp,
    stripe_declined,
    stripe_intent,
)

INTENTS = f"{STRIPE}/v1/payment_intents"
ORDERS = f"{PAYPAL}/v2/checkout/orders"


def form(call: Any) -> dict[str, list[str]]:
    body = call.request.body
    return parse_qs(body if isinstance(body, str) else body.decode())


def latest_invoice(shop: Shop, sub: Subscription) -> Invoice:
    with shop.billing.storage.unit_of_work() as uow:
        invoices = uow.invoices.list(subscription_id=sub.id, limit=MAX_LIST_LIMIT)
    return max(invoices, key=lambda invoice: (invoice.created_at, invoice.id))


def subscribe(shop: Shop) -> Subscription:
    return shop.billing.subscriptions.create(
        shop.customer.id, [{"price_id": shop.monthly.id}], idempotency_key="sub-1"
    )


def test_stripe_renewal_declined_then_recovered_by_the_retry(
    shop: Shop, mock: responses.RequestsMock
) -> None:
    payments = shop.billing.payments
    mock.post(f"{STRIPE}/v1/customers", json=sp.CUSTOMER)
    mock.post(
        f"{STRIPE}/v1/payment_methods/{sp.PAYMENT_METHOD['id']}/attach", json=sp.PAYMENT_METHOD
    )
    payments.attach_payment_method(
        shop.customer.id, sp.PAYMENT_METHOD["id"], gateway="stripe", idempotency_key="card"
    )
    first_invoice = stripe_intent(1000, "usd", id="pi_3QxFirstInvoice0001")
    mock.post(INTENTS, json=first_invoice)
    mock.get(f"{INTENTS}/{first_invoice['id']}", json=first_invoice)
    sub = subscribe(shop)
    assert payments.collect_due().paid == 1  # the first invoice
    sub = shop.billing.subscriptions.get(sub.id)
    assert sub.status is SubscriptionStatus.ACTIVE

    # The renewal: the card is declined for insufficient funds.
    at = shop.clock.set(sub.current_period_end)
    assert shop.billing.subscriptions.run_billing(at).renewed == 1
    declined = stripe_declined(1000, "usd", "insufficient_funds")
    declined["error"]["payment_intent"]["id"] = "pi_3QxRenewalDeclined1"
    mock.replace(responses.POST, INTENTS, status=402, json=declined)
    first = payments.collect_due(at)
    assert (first.failed, first.errors) == (1, {})
    renewal = latest_invoice(shop, sub)
    sent = form(mock.calls[-1])
    assert (sent["off_session"], sent["confirm"], sent["customer"], sent["amount"]) == (
        ["true"], ["true"], [sp.CUSTOMER["id"]], ["1000"],
    )  # fmt: skip
    assert sent["metadata[lms_invoice_id]"] == [renewal.id]
    assert shop.billing.subscriptions.get(sub.id).status is SubscriptionStatus.PAST_DUE
    with shop.billing.storage.unit_of_work() as uow:
        state = uow.dunning.get(renewal.id)
    assert (state.attempts, state.last_decline_code) == (1, "insufficient_funds")
    assert state.next_retry_at == at + timedelta(days=1)

    # Day 1: the retry goes through (another attempt, another Stripe idempotency key).
    retried = stripe_intent(1000, "usd", id="pi_3QxRenewalRetried01")
    mock.replace(responses.POST, INTENTS, json=retried)
    verify = mock.get(f"{INTENTS}/{retried['id']}", json=retried)
    recovered = payments.collect_due(at + timedelta(days=1))
    assert recovered.paid == 1
    keys = [c.request.headers["Idempotency-Key"] for c in mock.calls if c.request.url == INTENTS]
    assert len(set(keys)) == 3  # first invoice, the declined renewal, the retry
    assert latest_invoice(shop, sub).status is InvoiceStatus.PAID
    assert shop.billing.subscriptions.get(sub.id).status is SubscriptionStatus.ACTIVE
    with shop.billing.storage.unit_of_work() as uow:
        assert uow.dunning.get(renewal.id).status is DunningStatus.RECOVERED
    assert shop.log.count("invoice.payment_recovered") == 1
    assert verify.call_count == 1  # re-read before the invoice was marked paid


def test_paypal_vault_renewal_declined_then_recovered_by_the_retry(
    shop: Shop, mock: responses.RequestsMock
) -> None:
    payments = shop.billing.payments
    mock.post(f"{PAYPAL}/v1/oauth2/token", json=pp.TOKEN)
    mock.post(f"{PAYPAL}/v3/vault/payment-tokens", json=pp.PAYMENT_TOKEN, status=201)
    method = payments.attach_payment_method(
        shop.customer.id, "4G1234567X891011Y", gateway="paypal", idempotency_key="vault"
    )
    assert (method.token, method.type) == ("8kk8451t", "paypal")
    first_invoice = paypal_order("10.00", id="1AB23456CD789012E")
    mock.post(ORDERS, json=first_invoice, status=201)
    mock.get(f"{ORDERS}/{first_invoice['id']}", json=first_invoice)
    sub = subscribe(shop)
    assert payments.collect_due().paid == 1
    sub = shop.billing.subscriptions.get(sub.id)

    at = shop.clock.set(sub.current_period_end)
    shop.billing.subscriptions.run_billing(at)
    mock.replace(responses.POST, ORDERS, json=pp.unprocessable("INSTRUMENT_DECLINED"), status=422)
    assert payments.collect_due(at).failed == 1
    renewal = latest_invoice(shop, sub)
    sent = json.loads(mock.calls[-1].request.body)
    assert sent["payment_source"]["paypal"]["vault_id"] == "8kk8451t"
    assert sent["payment_source"]["paypal"]["stored_credential"]["payment_initiator"] == "MERCHANT"
    assert f"lms_invoice_id={renewal.id}" in sent["purchase_units"][0]["custom_id"]
    assert shop.billing.subscriptions.get(sub.id).status is SubscriptionStatus.PAST_DUE
    with shop.billing.storage.unit_of_work() as uow:
        assert uow.dunning.get(renewal.id).last_decline_code == "instrument_declined"

    retried = paypal_order("10.00", id="9ZY87654XW321098V")
    mock.replace(responses.POST, ORDERS, json=retried, status=201)
    mock.get(f"{ORDERS}/{retried['id']}", json=retried)
    assert payments.collect_due(at + timedelta(days=1)).paid == 1
    assert latest_invoice(shop, sub).status is InvoiceStatus.PAID
    assert shop.billing.subscriptions.get(sub.id).status is SubscriptionStatus.ACTIVE
    assert len(shop.billing.invoices.list_receipts(invoice_id=renewal.id)) == 1
