"""The Stripe gateway with Stripe's HTTP API mocked by `responses` (real SDK, real wire shapes)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
import responses
import stripe

from lms_billing.clock import TestClock
from lms_billing.domain.customers import CustomerProfile
from lms_billing.domain.payment_rules import raise_for_outcome
from lms_billing.domain.payments import (
    CaptureMethod,
    PaymentStatus,
    RefundReason,
    RefundRequest,
    RiskLevel,
    WebhookEventType,
)
from lms_billing.errors import (
    AuthenticationRequiredError,
    ConfigurationError,
    IdempotencyKeyMismatchError,
    PaymentDeclinedError,
    ProviderInvalidRequestError,
    ProviderUnavailableError,
    WebhookSignatureError,
)
from lms_billing.ports import PaymentGateway
from lms_billing.providers.stripe_gateway import StripeGateway

from . import stripe_payloads as p
from .helpers import pay

API = "https://api.stripe.com"
SECRET = "whsec_test_secret"


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as rsps:
        yield rsps


@pytest.fixture
def gateway() -> StripeGateway:
    return StripeGateway("sk_test_unit", webhook_secret=SECRET, max_network_retries=0)


def _form(call: Any) -> dict[str, list[str]]:
    body = call.request.body
    return parse_qs(body if isinstance(body, str) else body.decode())


def test_satisfies_the_gateway_protocol(gateway: StripeGateway) -> None:
    assert isinstance(gateway, PaymentGateway)


def test_create_customer_sends_profile_and_idempotency_key(
    gateway: StripeGateway, mock: responses.RequestsMock
) -> None:
    mock.post(f"{API}/v1/customers", json=p.CUSTOMER)
    customer = gateway.create_customer(
        CustomerProfile(
            external_id="lms-user-42", email="ada@example.org", name="Ada Lovelace", locale="en_GB"
        ),
        idempotency_key="cus-create-1",
    )
    assert (customer.id, customer.email, customer.gateway) == (
        "cus_RBillTest0001",
        "ada@example.org",
        "stripe",
    )
    call = mock.calls[0]
    assert call.request.headers["Idempotency-Key"] == "cus-create-1"
    assert call.request.headers["Authorization"] == "Bearer sk_test_unit"
    form = _form(call)
    assert form["metadata[external_id]"] == ["lms-user-42"]
    assert form["preferred_locales[0]"] == ["en-GB"]


def test_attach_and_detach_payment_method(
    gateway: StripeGateway, mock: responses.RequestsMock
) -> None:
    mock.post(f"{API}/v1/payment_methods/pm_1QxLmsBillTest0001/attach", json=p.PAYMENT_METHOD)
    mock.post(
        f"{API}/v1/payment_methods/pm_1QxLmsBillTest0001/detach",
        json=dict(p.PAYMENT_METHOD, customer=None),
    )
    details = gateway.attach_payment_method(
        "cus_RBillTest0001", "pm_1QxLmsBillTest0001", idempotency_key="att-1"
    )
    assert (details.brand, details.last4, details.exp_month, details.exp_year) == (
        "visa",
        "4242",
        12,
        2030,
    )
    assert details.fingerprint == "Xt5EWLLDS7FJjR1c" and details.country == "US"
    assert _form(mock.calls[0])["customer"] == ["cus_RBillTest0001"]
    gateway.detach_payment_method("pm_1QxLmsBillTest0001", idempotency_key="det-1")
    assert mock.calls[1].request.headers["Idempotency-Key"] == "det-1"


def test_default_payment_method_and_setup_intent(
    gateway: StripeGateway, mock: responses.RequestsMock
) -> None:
    with_default = json.loads(json.dumps(p.CUSTOMER))
    with_default["invoice_settings"]["default_payment_method"] = "pm_1QxLmsBillTest0001"
    mock.post(f"{API}/v1/customers/cus_RBillTest0001", json=with_default)
    mock.post(f"{API}/v1/setup_intents", json=p.SETUP_INTENT)
    customer = gateway.set_default_payment_method(
        "cus_RBillTest0001", "pm_1QxLmsBillTest0001", idempotency_key="def-1"
    )
    assert customer.default_payment_method_id == "pm_1QxLmsBillTest0001"
    assert _form(mock.calls[0])["invoice_settings[default_payment_method]"] == [
        "pm_1QxLmsBillTest0001"
    ]
    setup = gateway.create_setup("cus_RBillTest0001", idempotency_key="seti-1")
    assert setup.client_secret == "seti_1QxLmsBillTest0001_secret_redacted"
    assert setup.status == "requires_payment_method"
    assert _form(mock.calls[1])["usage"] == ["off_session"]


def test_off_session_payment_records_risk_and_settlement(
    gateway: StripeGateway, mock: responses.RequestsMock
) -> None:
    mock.post(f"{API}/v1/payment_intents", json=p.PAYMENT_INTENT_SUCCEEDED)
    result = pay(
        gateway,
        amount=2000,
        customer_id="cus_RBillTest0001",
        payment_method="pm_1QxLmsBillTest0001",
        off_session=True,
        idempotency_key="renewal-in_1-attempt-1",
        metadata={"invoice_id": "in_1"},
    )
    form = _form(mock.calls[0])
    assert form["amount"] == ["2000"] and form["currency"] == ["eur"]
    assert form["confirm"] == ["true"] and form["off_session"] == ["true"]
    assert form["expand[0]"] == ["latest_charge.balance_transaction"]
    assert form["metadata[invoice_id]"] == ["in_1"]
    assert mock.calls[0].request.headers["Idempotency-Key"] == "renewal-in_1-attempt-1"

    assert result.status is PaymentStatus.SUCCEEDED
    assert (result.amount_received, result.currency, result.charge_id) == (
        2000,
        "EUR",
        "ch_3QxLmsBillTest0001",
    )
    assert result.risk is not None
    assert (result.risk.level, result.risk.score) == (RiskLevel.ELEVATED, 67)
    txn = result.balance_transaction
    assert txn is not None
    assert (txn.currency, txn.amount, txn.fee, txn.net) == ("USD", 2171, 93, 2078)
    assert txn.exchange_rate == Decimal("1.0853")


def test_on_session_three_d_secure_returns_the_next_action(
    gateway: StripeGateway, mock: responses.RequestsMock
) -> None:
    mock.post(f"{API}/v1/payment_intents", json=p.PAYMENT_INTENT_REQUIRES_ACTION)
    result = pay(
        gateway,
        amount=2000,
        payment_method="pm_card_threeDSecure2Required",
        return_url="https://lms.example/checkout/return",
    )
    assert _form(mock.calls[0])["return_url"] == ["https://lms.example/checkout/return"]
    assert result.status is PaymentStatus.REQUIRES_ACTION
    assert result.next_action is not None
    assert result.next_action.type == "use_stripe_sdk"
    assert result.next_action.client_secret == "pi_3QxLmsBillTest0001_secret_redacted"
    with pytest.raises(AuthenticationRequiredError):
        raise_for_outcome(result)


@pytest.mark.parametrize(
    ("decline_code", "failure_code", "error"),
    [
        ("insufficient_funds", "card_declined", PaymentDeclinedError),
        ("authentication_required", "authentication_required", AuthenticationRequiredError),
    ],
)
def test_off_session_decline_is_an_outcome_with_the_decline_code(
    gateway: StripeGateway,
    mock: responses.RequestsMock,
    decline_code: str,
    failure_code: str,
    error: type[Exception],
) -> None:
    body = p.card_error(decline_code, code=failure_code)
    mock.post(f"{API}/v1/payment_intents", status=402, json=body)
    result = pay(
        gateway,
        amount=2000,
        payment_method="pm_x",
        off_session=True,
        customer_id="cus_RBillTest0001",
    )
    assert result.status is PaymentStatus.FAILED
    assert (result.decline_code, result.failure_code) == (decline_code, failure_code)
    with pytest.raises(error) as caught:
        raise_for_outcome(result)
    if error is PaymentDeclinedError:
        assert caught.value.decline_code == decline_code  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("status", "body", "headers", "error", "code"),
    [
        (
            402,
            p.card_error("stolen_card", with_intent=False),
            {},
            PaymentDeclinedError,
            "card_declined",
        ),
        (
            402,
            p.card_error("authentication_required", "authentication_required", with_intent=False),
            {},
            AuthenticationRequiredError,
            "authentication_required",
        ),
        (
            400,
            {
                "error": {
                    "type": "invalid_request_error",
                    "code": "resource_missing",
                    "param": "payment_method",
                    "message": "No such PaymentMethod: 'pm_x'",
                }
            },
            {"Request-Id": "req_123"},
            ProviderInvalidRequestError,
            "resource_missing",
        ),
        (
            500,
            {"error": {"type": "api_error", "message": "Something went wrong on Stripe's end."}},
            {},
            ProviderUnavailableError,
            None,
        ),
        (
            429,
            {
                "error": {
                    "type": "invalid_request_error",
                    "code": "rate_limit",
                    "message": "Too many requests",
                }
            },
            {},
            ProviderUnavailableError,
            "rate_limit",
        ),
        (
            400,
            {
                "error": {
                    "type": "idempotency_error",
                    "message": "Keys for idempotent requests can only be used with the same "
                    "parameters they were first used with.",
                }
            },
            {},
            IdempotencyKeyMismatchError,
            None,
        ),
        (
            401,
            {
                "error": {
                    "type": "invalid_request_error",
                    "message": "Invalid API Key provided: sk_test_****unit",
                }
            },
            {},
            ConfigurationError,
            None,
        ),
    ],
)
def test_errors_map_to_typed_errors(
    gateway: StripeGateway,
    mock: responses.RequestsMock,
    status: int,
    body: dict[str, Any],
    headers: dict[str, str],
    error: type[Exception],
    code: str | None,
) -> None:
    mock.post(f"{API}/v1/payment_methods/pm_x/attach", status=status, json=body, headers=headers)
    with pytest.raises(error) as caught:
        gateway.attach_payment_method("cus_1", "pm_x", idempotency_key="k")
    assert isinstance(caught.value.__cause__, stripe.StripeError)
    details = caught.value.details  # type: ignore[attr-defined]
    assert details["provider"] == "stripe"
    assert details["provider_code"] == code
    assert details["http_status"] == status
    if headers:
        assert details["request_id"] == "req_123"
    if error is PaymentDeclinedError:
        assert caught.value.decline_code == "stolen_card"  # type: ignore[attr-defined]


def test_connection_failure_is_retryable(
    gateway: StripeGateway, mock: responses.RequestsMock
) -> None:
    mock.get(f"{API}/v1/payment_intents/pi_1", body=requests.ConnectionError("connection reset"))
    with pytest.raises(ProviderUnavailableError) as caught:
        gateway.retrieve_payment("pi_1")
    assert caught.value.retryable


def test_capture_cancel_confirm_retrieve(
    gateway: StripeGateway, mock: responses.RequestsMock
) -> None:
    pi = "pi_3QxLmsBillTest0001"
    mock.post(f"{API}/v1/payment_intents", json=p.PAYMENT_INTENT_REQUIRES_CAPTURE)
    captured = p.intent(capture_method="manual", amount_received=1500)
    captured["latest_charge"] = dict(p.CHARGE, amount_captured=1500)
    mock.post(f"{API}/v1/payment_intents/{pi}/capture", json=captured)
    mock.post(
        f"{API}/v1/payment_intents/{pi}/cancel",
        json=p.intent(status="canceled", amount_received=0, latest_charge=None),
    )
    mock.post(f"{API}/v1/payment_intents/{pi}/confirm", json=p.PAYMENT_INTENT_SUCCEEDED)
    mock.get(f"{API}/v1/payment_intents/{pi}", json=p.PAYMENT_INTENT_SUCCEEDED)

    authorized = pay(
        gateway,
        amount=2000,
        payment_method="pm_1",
        capture_method=CaptureMethod.MANUAL,
        idempotency_key="a",
    )
    assert _form(mock.calls[0])["capture_method"] == ["manual"]
    assert (authorized.status, authorized.amount_capturable) == (
        PaymentStatus.REQUIRES_CAPTURE,
        2000,
    )
    result = gateway.capture_payment(pi, 1500, idempotency_key="cap")
    assert _form(mock.calls[1])["amount_to_capture"] == ["1500"]
    assert (result.status, result.amount_received) == (PaymentStatus.SUCCEEDED, 1500)
    assert gateway.cancel_payment(pi, idempotency_key="c").status is PaymentStatus.CANCELED
    assert gateway.confirm_payment(pi, idempotency_key="cf").succeeded
    retrieved = gateway.retrieve_payment(pi)
    assert "expand[0]=latest_charge.balance_transaction" in str(mock.calls[4].request.url).replace(
        "%5B", "["
    ).replace("%5D", "]")
    assert retrieved.amount_received == 2000


def test_partial_refund(gateway: StripeGateway, mock: responses.RequestsMock) -> None:
    mock.post(f"{API}/v1/refunds", json=p.REFUND)
    refund = gateway.refund(
        RefundRequest(
            payment_id="pi_3QxLmsBillTest0001",
            amount=500,
            reason=RefundReason.REQUESTED_BY_CUSTOMER,
            idempotency_key="refund-cn_1",
        )
    )
    form = _form(mock.calls[0])
    assert form["payment_intent"] == ["pi_3QxLmsBillTest0001"] and form["amount"] == ["500"]
    assert form["reason"] == ["requested_by_customer"]
    assert mock.calls[0].request.headers["Idempotency-Key"] == "refund-cn_1"
    assert (refund.amount, refund.currency, refund.status.value) == (500, "EUR", "succeeded")
    assert refund.balance_transaction_id == "txn_3QxLmsBillTest0003"


def test_balance_transactions_and_payouts(
    gateway: StripeGateway, mock: responses.RequestsMock
) -> None:
    mock.get(
        f"{API}/v1/balance_transactions",
        json=p.list_of("/v1/balance_transactions", p.BALANCE_TRANSACTION),
    )
    mock.get(f"{API}/v1/payouts", json=p.list_of("/v1/payouts", p.PAYOUT))
    [txn] = gateway.list_balance_transactions(payout_id="po_1QxLmsBillTest0001")
    assert "payout=po_1QxLmsBillTest0001" in str(mock.calls[0].request.url)
    assert (txn.type, txn.source_id, txn.exchange_rate) == (
        "charge",
        "ch_3QxLmsBillTest0001",
        Decimal("1.0853"),
    )
    [payout] = gateway.list_payouts()
    assert (payout.amount, payout.currency, payout.status) == (2078, "USD", "paid")


# --- webhooks: signed the way Stripe signs them -------------------------------------------


def _sign(payload: bytes, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    import hashlib
    import hmac

    t = int(time.time()) if timestamp is None else timestamp
    signature = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={t},v1={signature}"}


def _payload(event_type: str, obj: dict[str, Any]) -> bytes:
    return json.dumps(p.event(event_type, obj)).encode()


@pytest.mark.parametrize(
    ("event_type", "obj", "expected", "payment_id"),
    [
        (
            "payment_intent.succeeded",
            p.intent(latest_charge="ch_3QxLmsBillTest0001"),
            WebhookEventType.PAYMENT_SUCCEEDED,
            "pi_3QxLmsBillTest0001",
        ),
        (
            "payment_intent.payment_failed",
            p.declined_intent("insufficient_funds"),
            WebhookEventType.PAYMENT_FAILED,
            "pi_3QxLmsBillTest0001",
        ),
        (
            "payment_intent.processing",
            p.intent(status="processing", amount_received=0),
            WebhookEventType.PAYMENT_PROCESSING,
            "pi_3QxLmsBillTest0001",
        ),
        (
            "charge.refunded",
            dict(p.CHARGE, amount_refunded=2000, refunded=True),
            WebhookEventType.REFUND_UPDATED,
            "pi_3QxLmsBillTest0001",
        ),
        ("refund.updated", p.REFUND, WebhookEventType.REFUND_SUCCEEDED, "pi_3QxLmsBillTest0001"),
        ("plan.created", {"id": "price_1", "object": "plan"}, WebhookEventType.UNHANDLED, None),
    ],
)
def test_verified_webhooks_are_normalized(
    gateway: StripeGateway,
    event_type: str,
    obj: dict[str, Any],
    expected: WebhookEventType,
    payment_id: str | None,
) -> None:
    payload = _payload(event_type, obj)
    event = gateway.parse_webhook(payload, _sign(payload))
    assert event.type is expected
    assert (event.id, event.provider_type, event.gateway) == (
        "evt_3QxLmsBillTest0001",
        event_type,
        "stripe",
    )
    assert event.payment_id == payment_id
    assert event.created.timestamp() == 1735689605


def test_charge_refunded_reports_the_cumulative_refund(gateway: StripeGateway) -> None:
    payload = _payload("charge.refunded", dict(p.CHARGE, amount_refunded=2000, refunded=True))
    event = gateway.parse_webhook(payload, _sign(payload))
    assert (event.amount, event.currency, event.customer_id) == (2000, "EUR", "cus_RBillTest0001")


def test_webhook_with_expired_timestamp_is_rejected(gateway: StripeGateway) -> None:
    payload = _payload("payment_intent.succeeded", p.PAYMENT_INTENT_SUCCEEDED)
    stale = _sign(payload, timestamp=int(time.time()) - 301)
    with pytest.raises(WebhookSignatureError, match="tolerance"):
        gateway.parse_webhook(payload, stale)


def test_tampered_or_unsigned_webhooks_are_rejected(gateway: StripeGateway) -> None:
    payload = _payload("payment_intent.succeeded", p.PAYMENT_INTENT_SUCCEEDED)
    headers = _sign(payload)
    tampered = payload.replace(b'"amount": 2000', b'"amount": 1')
    assert tampered != payload
    with pytest.raises(WebhookSignatureError):
        gateway.parse_webhook(tampered, headers)
    with pytest.raises(WebhookSignatureError):
        gateway.parse_webhook(payload, {})
    with pytest.raises(WebhookSignatureError):
        gateway.parse_webhook(payload, _sign(payload, secret="whsec_someone_else"))
    unconfigured = StripeGateway("sk_test_unit")
    with pytest.raises(WebhookSignatureError):
        unconfigured.parse_webhook(payload, headers)


def test_several_signatures_during_secret_rotation(gateway: StripeGateway) -> None:
    payload = _payload("payment_intent.succeeded", p.PAYMENT_INTENT_SUCCEEDED)
    t = int(time.time())
    old = _sign(payload, secret="whsec_old", timestamp=t)["Stripe-Signature"].split(",")[1]
    new = _sign(payload, timestamp=t)["Stripe-Signature"].split(",")[1]
    headers = {"stripe-signature": f"t={t},{old},{new}"}
    assert gateway.parse_webhook(payload, headers).type is WebhookEventType.PAYMENT_SUCCEEDED


def test_webhook_window_follows_the_injected_clock_both_ways() -> None:
    clock = TestClock(datetime(2031, 3, 1, 12, 0, tzinfo=UTC))  # years from the wall clock
    gateway = StripeGateway("sk_test_unit", webhook_secret=SECRET, clock=clock)
    payload = _payload("payment_intent.succeeded", p.PAYMENT_INTENT_SUCCEEDED)
    now = int(clock.now().timestamp())
    # Signed by the Stripe SDK's own helper, the way Stripe signs deliveries.
    signed = stripe.WebhookSignature.generate_signature_header(
        payload.decode(), SECRET, timestamp=now - 299
    )
    event = gateway.parse_webhook(payload, {"Stripe-Signature": signed})
    assert event.type is WebhookEventType.PAYMENT_SUCCEEDED
    for skew in (-301, 301):  # a replay, and a delivery dated in the future
        with pytest.raises(WebhookSignatureError, match="tolerance"):
            gateway.parse_webhook(payload, _sign(payload, timestamp=now + skew))
    with pytest.raises(WebhookSignatureError):  # wall-clock time is outside this window
        gateway.parse_webhook(payload, _sign(payload))
