"""The sandbox gateway: magic cards, auth/capture, refunds, idempotency, signed webhooks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from lms_billing.clock import TestClock
from lms_billing.domain.customers import CustomerProfile
from lms_billing.domain.payments import (
    CaptureMethod,
    PaymentRequest,
    PaymentStatus,
    RefundRequest,
    RiskLevel,
    WebhookEventType,
)
from lms_billing.errors import (
    IdempotencyKeyMismatchError,
    ProviderInvalidRequestError,
    ProviderUnavailableError,
    WebhookSignatureError,
)
from lms_billing.ports import PaymentGateway
from lms_billing.providers.sandbox import SIGNATURE_HEADER, SandboxGateway, SignedWebhook
from lms_billing.providers.sandbox_cards import MAGIC_AMOUNTS

from .helpers import pay


@pytest.fixture
def clock() -> TestClock:
    return TestClock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))


@pytest.fixture
def gateway(clock: TestClock) -> SandboxGateway:
    return SandboxGateway(clock=clock)


def test_satisfies_the_gateway_protocol(gateway: SandboxGateway) -> None:
    assert isinstance(gateway, PaymentGateway)
    assert gateway.name == "sandbox"


def test_good_card_succeeds_with_a_settled_balance_transaction(gateway: SandboxGateway) -> None:
    result = pay(gateway, amount=4900, payment_method="pm_card_visa")
    assert result.status is PaymentStatus.SUCCEEDED
    assert result.amount_received == 4900
    assert result.risk is not None and result.risk.level is RiskLevel.NORMAL
    txn = result.balance_transaction
    assert txn is not None
    # 2.9% of 4900 = 142.1 -> 142 (half-up) + 30 fixed
    assert (txn.amount, txn.fee, txn.net, txn.currency) == (4900, 172, 4728, "EUR")
    assert gateway.retrieve_payment(result.id) == result


@pytest.mark.parametrize(
    ("token", "decline_code"),
    [
        ("pm_card_chargeDeclined", "generic_decline"),
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
        ("pm_card_visa_chargeDeclinedStolenCard", "stolen_card"),
        ("pm_card_chargeDeclinedLostCard", "lost_card"),
        ("pm_card_chargeDeclinedDoNotHonor", "do_not_honor"),
    ],
)
def test_declines_are_returned_as_outcomes(
    gateway: SandboxGateway, token: str, decline_code: str
) -> None:
    result = pay(gateway, amount=4900, payment_method=token)
    assert result.status is PaymentStatus.FAILED
    assert result.decline_code == decline_code
    assert result.failure_code == "card_declined"
    assert result.amount_received == 0


def test_magic_amounts_override_a_good_card(gateway: SandboxGateway) -> None:
    amount = next(a for a, token in MAGIC_AMOUNTS.items() if token.endswith("InsufficientFunds"))
    result = pay(gateway, amount=amount, currency="USD", payment_method="pm_card_visa")
    assert result.decline_code == "insufficient_funds"


def test_three_d_secure_on_session_returns_next_action_then_succeeds(
    gateway: SandboxGateway,
) -> None:
    created = pay(
        gateway,
        amount=4900,
        payment_method="pm_card_threeDSecureRequired",
        return_url="https://lms.example/return",
    )
    assert created.status is PaymentStatus.REQUIRES_ACTION
    assert created.next_action is not None and created.next_action.type == "redirect_to_url"
    assert created.next_action.return_url == "https://lms.example/return"
    done = gateway.complete_authentication(created.id)
    assert done.status is PaymentStatus.SUCCEEDED
    types = [gateway.parse_webhook(w.payload, w.headers).type for w in gateway.take_webhooks()]
    assert types == ["payment.requires_action", "payment.succeeded"]
    with pytest.raises(ProviderInvalidRequestError):
        gateway.confirm_payment(created.id, idempotency_key="again")


def test_three_d_secure_off_session_is_an_authentication_required_decline(
    gateway: SandboxGateway,
) -> None:
    result = pay(
        gateway, amount=4900, payment_method="pm_card_threeDSecureRequired", off_session=True
    )
    assert result.status is PaymentStatus.FAILED
    assert result.decline_code == "authentication_required"


def test_failed_authentication(gateway: SandboxGateway) -> None:
    created = pay(gateway, amount=100, payment_method="pm_card_threeDSecureRequired")
    failed = gateway.complete_authentication(created.id, succeed=False)
    assert failed.status is PaymentStatus.FAILED
    assert failed.failure_code == "payment_intent_authentication_failure"


def test_timeout_raises_provider_unavailable(gateway: SandboxGateway) -> None:
    with pytest.raises(ProviderUnavailableError) as caught:
        pay(gateway, amount=100, payment_method="pm_card_timeout")
    assert caught.value.retryable


def test_risk_signals(gateway: SandboxGateway) -> None:
    elevated = pay(
        gateway, amount=100, payment_method="pm_card_riskLevelElevated", idempotency_key="a"
    )
    assert elevated.succeeded and elevated.risk is not None
    assert elevated.risk.level is RiskLevel.ELEVATED
    blocked = pay(
        gateway, amount=100, payment_method="pm_card_riskLevelHighest", idempotency_key="b"
    )
    assert blocked.status is PaymentStatus.FAILED and blocked.risk is not None
    assert (blocked.risk.level, blocked.risk.outcome_type) == (RiskLevel.HIGHEST, "blocked")


def test_manual_capture_partial_and_capture_failure(gateway: SandboxGateway) -> None:
    authorized = pay(
        gateway, amount=5000, payment_method="pm_card_visa", capture_method=CaptureMethod.MANUAL
    )
    assert authorized.status is PaymentStatus.REQUIRES_CAPTURE
    assert authorized.amount_capturable == 5000
    with pytest.raises(ProviderInvalidRequestError):
        gateway.capture_payment(authorized.id, 5001, idempotency_key="c0")
    captured = gateway.capture_payment(authorized.id, 3000, idempotency_key="c1")
    assert (captured.status, captured.amount_received, captured.amount_capturable) == (
        PaymentStatus.SUCCEEDED,
        3000,
        0,
    )
    doomed = pay(
        gateway,
        amount=5000,
        payment_method="pm_card_captureFails",
        capture_method=CaptureMethod.MANUAL,
        idempotency_key="k2",
    )
    with pytest.raises(ProviderInvalidRequestError) as caught:
        gateway.capture_payment(doomed.id, None, idempotency_key="c2")
    assert caught.value.provider_code == "charge_expired_for_capture"
    assert gateway.retrieve_payment(doomed.id).status is PaymentStatus.CANCELED


def test_cancel(gateway: SandboxGateway) -> None:
    authorized = pay(
        gateway, amount=5000, payment_method="pm_card_visa", capture_method=CaptureMethod.MANUAL
    )
    assert (
        gateway.cancel_payment(authorized.id, idempotency_key="x").status is PaymentStatus.CANCELED
    )
    paid = pay(gateway, amount=5000, payment_method="pm_card_visa", idempotency_key="p")
    with pytest.raises(ProviderInvalidRequestError):
        gateway.cancel_payment(paid.id, idempotency_key="y")


def test_confirm_a_payment_created_unconfirmed(gateway: SandboxGateway) -> None:
    created = pay(gateway, amount=700, payment_method="pm_card_visa", confirm=False)
    assert created.status is PaymentStatus.REQUIRES_CONFIRMATION
    assert gateway.confirm_payment(created.id, idempotency_key="c").succeeded


def test_partial_and_full_refunds_never_exceed_the_payment(gateway: SandboxGateway) -> None:
    paid = pay(gateway, amount=5000, payment_method="pm_card_visa")
    first = gateway.refund(RefundRequest(payment_id=paid.id, amount=2000, idempotency_key="r1"))
    assert (first.amount, first.status.value) == (2000, "succeeded")
    assert first.balance_transaction is not None and first.balance_transaction.amount == -2000
    with pytest.raises(ProviderInvalidRequestError):
        gateway.refund(RefundRequest(payment_id=paid.id, amount=3001, idempotency_key="r2"))
    rest = gateway.refund(RefundRequest(payment_id=paid.id, idempotency_key="r3"))
    assert rest.amount == 3000
    assert gateway.retrieve_payment(paid.id).amount_refunded == 5000


def test_idempotency_keys_replay_and_reject_other_parameters(gateway: SandboxGateway) -> None:
    request = PaymentRequest(
        amount=5000, currency="EUR", payment_method="pm_card_visa", idempotency_key="same"
    )
    first = gateway.create_payment(request)
    assert gateway.create_payment(request) == first
    assert len([t for t in gateway.list_balance_transactions() if t.type == "charge"]) == 1
    with pytest.raises(IdempotencyKeyMismatchError):
        gateway.create_payment(request.model_copy(update={"amount": 5001}))
    refund = RefundRequest(payment_id=first.id, amount=100, idempotency_key="r")
    assert gateway.refund(refund) == gateway.refund(refund)
    assert gateway.retrieve_payment(first.id).amount_refunded == 100


def test_customers_saved_methods_and_default_method_for_off_session(
    gateway: SandboxGateway,
) -> None:
    customer = gateway.create_customer(
        CustomerProfile(external_id="lms-user-1", email="ada@example.org"), idempotency_key="c"
    )
    other = gateway.create_customer(CustomerProfile(external_id="u2"), idempotency_key="c2")
    method = gateway.attach_payment_method(customer.id, "pm_card_visa", idempotency_key="a")
    again = gateway.attach_payment_method(other.id, "pm_card_visa", idempotency_key="a2")
    assert (method.brand, method.last4, method.customer_id) == ("visa", "4242", customer.id)
    assert method.fingerprint == again.fingerprint and method.token != again.token
    with pytest.raises(ProviderInvalidRequestError):
        pay(
            gateway,
            amount=100,
            customer_id=other.id,
            payment_method=method.token,
            idempotency_key="x",
        )
    gateway.set_default_payment_method(customer.id, method.token, idempotency_key="d")
    renewal = pay(
        gateway, amount=100, customer_id=customer.id, off_session=True, idempotency_key="r"
    )
    assert renewal.succeeded and renewal.payment_method == method.token
    gateway.detach_payment_method(method.token, idempotency_key="det")
    with pytest.raises(ProviderInvalidRequestError):
        gateway.retrieve_payment_method(method.token)


def test_unknown_tokens_are_invalid_requests(gateway: SandboxGateway) -> None:
    with pytest.raises(ProviderInvalidRequestError) as caught:
        pay(gateway, amount=100, payment_method="pm_nope")
    assert caught.value.provider_code == "resource_missing"


def test_settlement_in_another_currency_records_fx_rate(clock: TestClock) -> None:
    gateway = SandboxGateway(
        clock=clock, settlement_currency="USD", fx_rates={("EUR", "USD"): Decimal("1.0853")}
    )
    result = pay(gateway, amount=4999, payment_method="pm_card_visa")
    txn = result.balance_transaction
    assert txn is not None
    # 49.99 EUR * 1.0853 = 54.254147 USD -> 5425 minor units (half-up)
    assert (txn.currency, txn.amount, txn.exchange_rate) == ("USD", 5425, Decimal("1.0853"))
    assert result.currency == "EUR" and result.amount == 4999


def test_payout_sweeps_the_net_balance(gateway: SandboxGateway) -> None:
    paid = pay(gateway, amount=10000, payment_method="pm_card_visa")
    gateway.refund(RefundRequest(payment_id=paid.id, amount=1000, idempotency_key="r"))
    payout = gateway.create_payout("EUR", idempotency_key="p")
    # 10000 - fee (290 + 30) - 1000 refunded
    assert payout.amount == 8680
    assert gateway.list_payouts() == [payout]
    with pytest.raises(ProviderInvalidRequestError):
        gateway.create_payout("EUR", idempotency_key="p2")


# --- webhooks ------------------------------------------------------------------------------


def _first_webhook_of_a_payment(gateway: SandboxGateway) -> SignedWebhook:
    pay(gateway, amount=100, payment_method="pm_card_visa")
    return gateway.take_webhooks()[0]


def test_webhooks_are_emitted_signed_and_verified(gateway: SandboxGateway) -> None:
    paid = pay(gateway, amount=100, payment_method="pm_card_visa")
    gateway.refund(RefundRequest(payment_id=paid.id, idempotency_key="r"))
    events = [gateway.parse_webhook(w.payload, w.headers) for w in gateway.take_webhooks()]
    assert [e.type for e in events] == [
        WebhookEventType.PAYMENT_SUCCEEDED,
        WebhookEventType.REFUND_SUCCEEDED,
    ]
    assert events[0].payment_id == paid.id
    assert events[0].payment_status is PaymentStatus.SUCCEEDED
    assert events[1].payment_id == paid.id and events[1].refund_id is not None
    assert (events[0].amount, events[0].currency) == (100, "EUR")
    assert gateway.take_webhooks() == []


def test_tampered_webhook_is_rejected(gateway: SandboxGateway) -> None:
    webhook = _first_webhook_of_a_payment(gateway)
    body = json.loads(webhook.payload)
    body["data"]["object"]["amount"] = 1
    with pytest.raises(WebhookSignatureError):
        gateway.parse_webhook(json.dumps(body).encode(), webhook.headers)
    with pytest.raises(WebhookSignatureError):
        gateway.parse_webhook(webhook.payload, {})
    other = SandboxGateway(
        webhook_secret="whsec_other", clock=TestClock(datetime(2026, 11, 25, 9, tzinfo=UTC))
    )
    with pytest.raises(WebhookSignatureError):
        other.parse_webhook(webhook.payload, webhook.headers)


def test_expired_webhook_is_rejected(gateway: SandboxGateway, clock: TestClock) -> None:
    webhook = _first_webhook_of_a_payment(gateway)
    clock.advance(minutes=4)
    assert gateway.parse_webhook(webhook.payload, webhook.headers).type == "payment.succeeded"
    clock.advance(minutes=2)
    with pytest.raises(WebhookSignatureError, match="tolerance"):
        gateway.parse_webhook(webhook.payload, webhook.headers)
    # Re-signed now (a fresh delivery) it is accepted again; headers are case-insensitive.
    fresh = gateway.sign(webhook.payload)
    assert gateway.parse_webhook(
        webhook.payload, {SIGNATURE_HEADER.lower(): fresh[SIGNATURE_HEADER]}
    )


def test_future_timestamps_beyond_tolerance_are_rejected(
    gateway: SandboxGateway, clock: TestClock
) -> None:
    payload = b'{"id":"evt_1"}'
    future = int((clock.now() + timedelta(minutes=10)).timestamp())
    with pytest.raises(WebhookSignatureError):
        gateway.parse_webhook(payload, gateway.sign(payload, timestamp=future))
