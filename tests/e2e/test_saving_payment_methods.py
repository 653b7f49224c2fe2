"""Saving payment methods through `Billing`: the setup flow (a Stripe SetupIntent) runs the
bank's authentication while the learner is present, so a card that needs 3-D Secure can be
charged off session at renewal; a profile change reaches the provider customers."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import pytest
import responses

from lms_billing.domain.payments import PaymentStatus
from lms_billing.domain.subscriptions import SubscriptionStatus
from lms_billing.errors import PaymentDeclinedError, ValidationError

from .support import STRIPE, Shop, sandbox_of, sp


def form(call: Any) -> dict[str, list[str]]:
    body = call.request.body
    return parse_qs(body if isinstance(body, str) else body.decode())


def test_a_card_saved_through_an_authenticated_setup_renews_off_session(shop: Shop) -> None:
    payments = shop.billing.payments
    started = payments.setup_payment_method(
        shop.customer.id,
        idempotency_key="save-1",
        payment_method="pm_card_threeDSecureRequired",
        return_url="https://lms.example/cards/done",
    )
    assert started.status == "requires_action" and started.payment_method is None
    assert started.setup.next_action is not None
    assert started.setup.next_action.return_url == "https://lms.example/cards/done"
    # Before the learner authenticates, nothing is stored.
    assert payments.complete_setup(shop.customer.id, started.setup.id).payment_method is None
    assert payments.list_payment_methods(shop.customer.id) == []

    sandbox_of(shop).complete_setup_authentication(started.setup.id)
    done = payments.complete_setup(shop.customer.id, started.setup.id)
    assert done.status == "succeeded" and done.payment_method is not None
    assert (done.payment_method.brand, done.payment_method.last4) == ("visa", "3155")
    assert done.payment_method.is_default
    assert payments.complete_setup(shop.customer.id, started.setup.id) == done  # stored once

    sub = shop.billing.subscriptions.create(
        shop.customer.id, [{"price_id": shop.monthly.id}], idempotency_key="sub"
    )
    assert payments.collect_due().paid == 1  # off session, no new challenge
    assert shop.billing.subscriptions.get(sub.id).status is SubscriptionStatus.ACTIVE


def test_the_same_card_attached_directly_needs_the_learner_at_renewal(shop: Shop) -> None:
    shop.billing.payments.attach_payment_method(
        shop.customer.id, "pm_card_threeDSecureRequired", idempotency_key="attach"
    )
    shop.billing.subscriptions.create(
        shop.customer.id, [{"price_id": shop.monthly.id}], idempotency_key="sub"
    )
    assert shop.billing.payments.collect_due().failed == 1
    [attempt] = shop.billing.payments.list(customer_id=shop.customer.id)
    assert (attempt.status, attempt.decline_code) == (
        PaymentStatus.FAILED,
        "authentication_required",
    )


def test_a_setup_without_a_card_hands_the_client_secret_to_the_front_end(shop: Shop) -> None:
    started = shop.billing.payments.setup_payment_method(shop.customer.id, idempotency_key="s")
    assert started.status == "requires_payment_method"
    assert started.setup.client_secret is not None
    with pytest.raises(PaymentDeclinedError) as refused:
        shop.billing.payments.setup_payment_method(
            shop.customer.id, idempotency_key="s2", payment_method="pm_card_chargeDeclined"
        )
    assert refused.value.decline_code == "generic_decline"
    with pytest.raises(ValidationError):  # PayPal saves through its own vault flow
        shop.billing.payments.setup_payment_method(
            shop.customer.id, idempotency_key="s3", gateway="paypal"
        )


def test_stripe_setup_intent_saves_the_card_after_3d_secure(
    shop: Shop, mock: responses.RequestsMock
) -> None:
    mock.post(f"{STRIPE}/v1/customers", json=sp.CUSTOMER)
    pending = dict(
        sp.SETUP_INTENT,
        status="requires_action",
        payment_method=sp.PAYMENT_METHOD["id"],
        next_action={
            "type": "use_stripe_sdk",
            "use_stripe_sdk": {"type": "three_d_secure_redirect", "source": "src_redacted"},
        },
    )
    create = mock.post(f"{STRIPE}/v1/setup_intents", json=pending)
    started = shop.billing.payments.setup_payment_method(
        shop.customer.id,
        gateway="stripe",
        payment_method=sp.PAYMENT_METHOD["id"],
        return_url="https://lms.example/cards/done",
        idempotency_key="save-1",
    )
    sent = form(create.calls[0])
    assert (sent["usage"], sent["confirm"], sent["customer"]) == (
        ["off_session"],
        ["true"],
        [sp.CUSTOMER["id"]],
    )
    assert create.calls[0].request.headers["Idempotency-Key"] == (
        f"setup:{shop.customer.id}:save-1"
    )
    assert started.status == "requires_action" and started.setup.next_action is not None
    assert started.setup.next_action.client_secret == sp.SETUP_INTENT["client_secret"]

    # Stripe.js handled next_action; the return URL handler completes the setup.
    mock.get(
        f"{STRIPE}/v1/setup_intents/{sp.SETUP_INTENT['id']}",
        json=dict(pending, status="succeeded", next_action=None),
    )
    mock.get(f"{STRIPE}/v1/payment_methods/{sp.PAYMENT_METHOD['id']}", json=sp.PAYMENT_METHOD)
    done = shop.billing.payments.complete_setup(
        shop.customer.id, sp.SETUP_INTENT["id"], gateway="stripe"
    )
    assert done.payment_method is not None
    assert (done.payment_method.token, done.payment_method.fingerprint) == (
        sp.PAYMENT_METHOD["id"],
        "Xt5EWLLDS7FJjR1c",
    )


def test_a_profile_change_reaches_the_linked_provider_customers(
    shop: Shop, mock: responses.RequestsMock
) -> None:
    payments = shop.billing.payments
    payments.attach_payment_method(shop.customer.id, "pm_card_visa", idempotency_key="a")
    mock.post(f"{STRIPE}/v1/customers", json=sp.CUSTOMER)
    assert payments.gateway_customer_id(shop.customer.id, "stripe") == sp.CUSTOMER["id"]
    update = mock.post(
        f"{STRIPE}/v1/customers/{sp.CUSTOMER['id']}",
        json=dict(sp.CUSTOMER, email="ada@lovelace.example"),
    )

    shop.billing.customers.update(
        shop.customer.id,
        {"email": "ada@lovelace.example", "name": "Ada King"},
        idempotency_key="rename",
    )
    sent = form(update.calls[0])
    assert (sent["email"], sent["name"]) == (["ada@lovelace.example"], ["Ada King"])
    assert update.calls[0].request.headers["Idempotency-Key"].endswith(":stripe")
    sandbox_link = payments.gateway_customer_id(shop.customer.id, "sandbox")
    synced = sandbox_of(shop).retrieve_customer(sandbox_link)
    assert (synced.email, synced.name) == ("ada@lovelace.example", "Ada King")


def test_a_provider_failing_the_profile_copy_does_not_undo_the_update(
    shop: Shop, mock: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    mock.post(f"{STRIPE}/v1/customers", json=sp.CUSTOMER)
    shop.billing.payments.gateway_customer_id(shop.customer.id, "stripe")
    mock.post(
        f"{STRIPE}/v1/customers/{sp.CUSTOMER['id']}",
        status=503,
        json={"error": {"type": "api_error", "message": "Service unavailable."}},
    )
    with caplog.at_level("WARNING", logger="lms_billing.payments"):
        updated = shop.billing.customers.update(
            shop.customer.id, {"email": "ada@lovelace.example"}, idempotency_key="rename"
        )
    assert updated.email == "ada@lovelace.example"
    assert shop.billing.customers.get(shop.customer.id).email == "ada@lovelace.example"
    assert "Could not copy customer" in caplog.text
    # Retrying by hand once Stripe is back.
    mock.replace(responses.POST, f"{STRIPE}/v1/customers/{sp.CUSTOMER['id']}", json=sp.CUSTOMER)
    [synced] = shop.billing.payments.sync_gateway_customers(
        shop.customer.id, idempotency_key="retry-1"
    )
    assert synced.id == sp.CUSTOMER["id"]
