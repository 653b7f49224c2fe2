"""The PayPal gateway with PayPal's REST API mocked by `responses` (real SDK, real shapes)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import responses
from hypothesis import given, settings
from hypothesis import strategies as st

from lms_billing.clock import TestClock
from lms_billing.domain.customers import CustomerProfile
from lms_billing.domain.payments import (
    CaptureMethod,
    PaymentRequest,
    PaymentStatus,
    RefundRequest,
    RefundStatus,
    WebhookEventType,
)
from lms_billing.errors import (
    AuthenticationRequiredError,
    InvalidAmountError,
    ProviderInvalidRequestError,
    ProviderUnavailableError,
    WebhookSignatureError,
)
from lms_billing.ports import PaymentGateway
from lms_billing.providers.paypal_gateway import PayPalGateway, custom_id_for, transmission_time
from lms_billing.providers.paypal_mapping import minor_from_paypal, paypal_amount

from . import paypal_payloads as p

API = "https://api-m.sandbox.paypal.com"
ORDER_URL = f"{API}/v2/checkout/orders/{p.ORDER_ID}"
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.post(f"{API}/v1/oauth2/token", json=p.TOKEN)
        yield rsps


@pytest.fixture
def gateway() -> PayPalGateway:
    return PayPalGateway(
        "client-id", "client-secret", webhook_id="1JE4291016473214C", clock=TestClock(NOW)
    )


def _json(call: Any) -> dict[str, Any]:
    body = call.request.body
    data: dict[str, Any] = json.loads(body if isinstance(body, str | bytes) else b"{}")
    return data


def _calls(mock: responses.RequestsMock, path: str) -> list[Any]:
    return [c for c in mock.calls if path in c.request.url]


def test_satisfies_the_gateway_protocol(gateway: PayPalGateway) -> None:
    assert isinstance(gateway, PaymentGateway)


def test_checkout_returns_the_approve_link_then_captures(
    gateway: PayPalGateway, mock: responses.RequestsMock
) -> None:
    mock.post(f"{API}/v2/checkout/orders", json=p.PAYER_ACTION_REQUIRED, status=200)
    created = gateway.create_payment(
        PaymentRequest(
            amount=10000,
            currency="USD",
            idempotency_key="order-1",
            return_url="https://lms.example/paypal/return",
            cancel_url="https://lms.example/paypal/cancel",
            metadata={"invoice_id": "INV-2026-0001"},
        )
    )
    [call] = _calls(mock, "/v2/checkout/orders")
    assert call.request.headers["PayPal-Request-Id"] == "order-1"
    assert call.request.headers["Authorization"] == "Bearer A21AAFs-test-access-token"
    body = _json(call)
    assert body["intent"] == "CAPTURE"
    assert body["purchase_units"][0]["amount"] == {"currency_code": "USD", "value": "100.00"}
    assert body["purchase_units"][0]["invoice_id"] == "INV-2026-0001"
    context = body["payment_source"]["paypal"]["experience_context"]
    assert context["return_url"] == "https://lms.example/paypal/return"
    assert created.status is PaymentStatus.REQUIRES_ACTION
    assert (created.amount, created.currency) == (10000, "USD")
    assert created.next_action is not None and created.next_action.type == "approve"
    assert created.next_action.url == f"https://www.paypal.com/checkoutnow?token={p.ORDER_ID}"

    mock.get(ORDER_URL, json=p.order("APPROVED"))
    mock.post(f"{ORDER_URL}/capture", json=p.CAPTURED, status=201)
    captured = gateway.confirm_payment(p.ORDER_ID, idempotency_key="capture-1")
    assert _calls(mock, "/capture")[0].request.headers["PayPal-Request-Id"] == "capture-1"
    assert captured.status is PaymentStatus.SUCCEEDED
    assert (captured.amount_received, captured.charge_id) == (10000, p.CAPTURE_ID)
    txn = captured.balance_transaction
    assert txn is not None
    assert (txn.amount, txn.fee, txn.net, txn.currency) == (10000, 398, 9602, "USD")


def test_created_order_uses_the_approve_link(
    gateway: PayPalGateway, mock: responses.RequestsMock
) -> None:
    mock.post(f"{API}/v2/checkout/orders", json=p.CREATED)
    created = gateway.create_payment(
        PaymentRequest(amount=2500, currency="EUR", idempotency_key="k")
    )
    assert created.next_action is not None
    assert created.next_action.url == f"https://www.paypal.com/checkoutnow?token={p.ORDER_ID}"


def test_vaulted_token_charges_a_renewal_at_once(
    gateway: PayPalGateway, mock: responses.RequestsMock
) -> None:
    mock.post(f"{API}/v2/checkout/orders", json=p.captured_order(), status=201)
    result = gateway.create_payment(
        PaymentRequest(
            amount=10000,
            currency="USD",
            payment_method="8kk8451t",
            payment_method_type="paypal",
            off_session=True,
            idempotency_key="renewal-1",
        )
    )
    body = _json(_calls(mock, "/v2/checkout/orders")[0])
    assert body["payment_source"] == {
        "paypal": {
            "vault_id": "8kk8451t",
            "stored_credential": {
                "payment_initiator": "MERCHANT",
                "usage": "SUBSEQUENT",
                "usage_pattern": "SUBSCRIPTION_PREPAID",
            },
        }
    }
    assert result.status is PaymentStatus.SUCCEEDED and result.amount_received == 10000


def test_a_saved_card_is_charged_as_a_card_vault_id(
    gateway: PayPalGateway, mock: responses.RequestsMock
) -> None:
    mock.post(f"{API}/v2/checkout/orders", json=p.captured_order(), status=201)
    gateway.create_payment(
        PaymentRequest(
            amount=10000,
            currency="USD",
            payment_method="9rr7362c",
            payment_method_type="card",
            off_session=True,
            idempotency_key="renewal-1",
        )
    )
    body = _json(_calls(mock, "/v2/checkout/orders")[0])
    assert body["payment_source"] == {
        "card": {
            "vault_id": "9rr7362c",
            "stored_credential": {
                "payment_initiator": "MERCHANT",
                "payment_type": "RECURRING",
                "usage": "SUBSEQUENT",
            },
        }
    }
    # On session (the buyer picks a saved card at checkout): no merchant-initiated flag.
    mock.post(f"{API}/v2/checkout/orders", json=p.captured_order(), status=201)
    gateway.create_payment(
        PaymentRequest(
            amount=10000,
            currency="USD",
            payment_method="9rr7362c",
            payment_method_type="card",
            idempotency_key="checkout-1",
        )
    )
    assert _json(_calls(mock, "/v2/checkout/orders")[1])["payment_source"] == {
        "card": {"vault_id": "9rr7362c"}
    }


def test_our_references_travel_in_custom_id_and_come_back(
    gateway: PayPalGateway, mock: responses.RequestsMock
) -> None:
    refs = {"lms_payment_id": "pay_0a1b", "lms_invoice_id": "in_9z8y", "note": "kept out"}
    echoed = p.captured_order()
    custom = "lms_invoice_id=in_9z8y&lms_payment_id=pay_0a1b"
    echoed["purchase_units"][0]["custom_id"] = custom
    mock.post(f"{API}/v2/checkout/orders", json=echoed, status=201)
    result = gateway.create_payment(
        PaymentRequest(
            amount=10000,
            currency="USD",
            payment_method="8kk8451t",
            idempotency_key="k",
            metadata=refs,
        )
    )
    unit = _json(_calls(mock, "/v2/checkout/orders")[0])["purchase_units"][0]
    assert unit["custom_id"] == custom and "invoice_id" not in unit
    assert result.metadata == {"lms_invoice_id": "in_9z8y", "lms_payment_id": "pay_0a1b"}
    # Too long for PayPal's 127 characters together: the payment id alone.
    long_refs = {"lms_payment_id": "pay_" + "a" * 60, "lms_invoice_id": "in_" + "b" * 60}
    assert custom_id_for(long_refs) == "lms_payment_id=pay_" + "a" * 60
    assert custom_id_for({"custom_id": "order-77"}) == "order-77"


def test_declined_vault_charge_is_returned_as_an_outcome(
    gateway: PayPalGateway, mock: responses.RequestsMock
) -> None:
    # PayPal refuses the charge with 422 and creates no order: still an outcome, not a raise.
    mock.post(f"{API}/v2/checkout/orders", json=p.unprocessable("INSTRUMENT_DECLINED"), status=422)
    result = gateway.create_payment(
        PaymentRequest(amount=10000, currency="USD", payment_method="8kk8451t", idempotency_key="k")
    )
    assert (result.status, result.decline_code) == (PaymentStatus.FAILED, "instrument_declined")
    assert (result.amount, result.amount_received, result.currency) == (10000, 0, "USD")
    assert result.id == "no-order:k"
    with pytest.raises(ProviderInvalidRequestError):  # nothing to re-read at PayPal
        gateway.retrieve_payment(result.id)


def test_payer_action_required_maps_to_authentication_required(
    gateway: PayPalGateway, mock: responses.RequestsMock
) -> None:
    body = p.unprocessable("PAYER_ACTION_REQUIRED", "The buyer must approve the payment.")
    mock.get(ORDER_URL, json=body, status=422)
    with pytest.raises(AuthenticationRequiredError):  # the typed error outside payments
        gateway.retrieve_payment(p.ORDER_ID)
    mock.post(f"{API}/v2/checkout/orders", json=body, status=422)
    result = gateway.create_payment(
        PaymentRequest(amount=10000, currency="USD", payment_method="8kk8451t", idempotency_key="k")
    )
    assert (result.status, result.decline_code) == (
        PaymentStatus.FAILED,
        "authentication_required",
    )
    # Capturing an approved order that needs the buyer again: back to requires_action.
    mock.get(ORDER_URL, json=p.order("APPROVED"))
    mock.post(f"{ORDER_URL}/capture", json=body, status=422)
    mock.get(
        ORDER_URL,
        json={**p.order("PAYER_ACTION_REQUIRED"), "links": p.PAYER_ACTION_REQUIRED["links"]},
    )
    again = gateway.confirm_payment(p.ORDER_ID, idempotency_key="c")
    assert again.status is PaymentStatus.REQUIRES_ACTION
    assert again.next_action is not None and again.next_action.type == "approve"


def test_declined_capture_is_returned_as_an_outcome(
    gateway: PayPalGateway, mock: responses.RequestsMock
) -> None:
    mock.get(ORDER_URL, json=p.order("APPROVED"))
    mock.post(f"{ORDER_URL}/capture", json=p.unprocessable("INSTRUMENT_DECLINED"), status=422)
    mock.get(ORDER_URL, json=p.order("APPROVED"))
    result = gateway.confirm_payment(p.ORDER_ID, idempotency_key="k")
    assert result.status is PaymentStatus.FAILED
    assert result.decline_code == "instrument_declined"


def test_authorize_then_partial_capture(
    gateway: PayPalGateway, mock: responses.RequestsMock
) -> None:
    mock.post(f"{API}/v2/checkout/orders", json=p.PAYER_ACTION_REQUIRED)
    gateway.create_payment(
        PaymentRequest(
            amount=10000, currency="USD", capture_method=CaptureMethod.MANUAL, idempotency_key="k"
        )
    )
    assert _json(mock.calls[-1])["intent"] == "AUTHORIZE"

    mock.get(ORDER_URL, json=p.order("APPROVED", intent="AUTHORIZE"))
    mock.post(f"{ORDER_URL}/authorize", json=p.authorized_order(), status=201)
    authorized = gateway.confirm_payment(p.ORDER_ID, idempotency_key="auth")
    assert (authorized.status, authorized.amount_capturable) == (
        PaymentStatus.REQUIRES_CAPTURE,
        10000,
    )

    captured_order = p.authorized_order("PARTIALLY_CAPTURED")
    capture = dict(p.CAPTURED["purchase_units"][0]["payments"]["captures"][0])
    capture["amount"] = {"currency_code": "USD", "value": "60.00"}
    captured_order["purchase_units"][0]["payments"]["captures"] = [capture]
    mock.get(ORDER_URL, json=p.authorized_order())
    mock.post(
        f"{API}/v2/payments/authorizations/{p.AUTHORIZATION_ID}/capture", json=capture, status=201
    )
    mock.get(ORDER_URL, json=captured_order)
    result = gateway.capture_payment(p.ORDER_ID, 6000, idempotency_key="cap-1")
    capture_call = _calls(mock, f"/authorizations/{p.AUTHORIZATION_ID}/capture")[0]
    assert _json(capture_call)["amount"] == {"currency_code": "USD", "value": "60.00"}
    assert capture_call.request.headers["PayPal-Request-Id"] == "cap-1"
    assert (result.status, result.amount_received) == (PaymentStatus.SUCCEEDED, 6000)


def test_void_an_authorization(gateway: PayPalGateway, mock: responses.RequestsMock) -> None:
    mock.get(ORDER_URL, json=p.authorized_order())
    mock.post(f"{API}/v2/payments/authorizations/{p.AUTHORIZATION_ID}/void", status=204)
    mock.get(ORDER_URL, json=p.authorized_order("VOIDED"))
    assert (
        gateway.cancel_payment(p.ORDER_ID, idempotency_key="void").status is PaymentStatus.CANCELED
    )


def test_cannot_cancel_without_an_authorization(
    gateway: PayPalGateway, mock: responses.RequestsMock
) -> None:
    mock.get(ORDER_URL, json=p.captured_order())
    with pytest.raises(ProviderInvalidRequestError):
        gateway.cancel_payment(p.ORDER_ID, idempotency_key="void")


def test_partial_refund_of_the_capture(
    gateway: PayPalGateway, mock: responses.RequestsMock
) -> None:
    mock.get(ORDER_URL, json=p.captured_order())
    mock.post(f"{API}/v2/payments/captures/{p.CAPTURE_ID}/refund", json=p.REFUND, status=201)
    refund = gateway.refund(
        RefundRequest(
            payment_id=p.ORDER_ID,
            amount=1000,
            idempotency_key="refund-cn-1",
            metadata={"credit_note_id": "CN-1"},
        )
    )
    call = _calls(mock, "/refund")[0]
    assert _json(call) == {
        "amount": {"currency_code": "USD", "value": "10.00"},
        "invoice_id": "CN-1",
    }
    assert call.request.headers["PayPal-Request-Id"] == "refund-cn-1"
    assert (refund.amount, refund.currency, refund.status) == (1000, "USD", RefundStatus.SUCCEEDED)
    assert refund.payment_id == p.ORDER_ID


def test_refunded_amounts_are_read_back(
    gateway: PayPalGateway, mock: responses.RequestsMock
) -> None:
    mock.get(ORDER_URL, json=p.captured_order(refunds=[p.REFUND]))
    result = gateway.retrieve_payment(p.ORDER_ID)
    assert (result.amount_received, result.amount_refunded, result.refundable_amount) == (
        10000,
        1000,
        9000,
    )


def test_zero_decimal_currencies(gateway: PayPalGateway, mock: responses.RequestsMock) -> None:
    mock.post(f"{API}/v2/checkout/orders", json=p.order("CREATED", value="5000", currency="JPY"))
    gateway.create_payment(PaymentRequest(amount=5000, currency="JPY", idempotency_key="k"))
    assert _json(mock.calls[-1])["purchase_units"][0]["amount"] == {
        "currency_code": "JPY",
        "value": "5000",
    }
    with pytest.raises(InvalidAmountError):
        gateway.create_payment(PaymentRequest(amount=150050, currency="HUF", idempotency_key="k2"))


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (
            404,
            {
                "name": "RESOURCE_NOT_FOUND",
                "details": [{"issue": "INVALID_RESOURCE_ID"}],
                "message": "The specified resource does not exist.",
                "debug_id": "b1",
            },
            ProviderInvalidRequestError,
        ),
        (
            500,
            {
                "name": "INTERNAL_SERVER_ERROR",
                "message": "An internal server error occurred.",
                "debug_id": "b2",
            },
            ProviderUnavailableError,
        ),
    ],
)
def test_errors_map_to_typed_errors(
    gateway: PayPalGateway,
    mock: responses.RequestsMock,
    status: int,
    body: dict[str, Any],
    error: type[Exception],
) -> None:
    mock.get(ORDER_URL, json=body, status=status)
    with pytest.raises(error) as caught:
        gateway.retrieve_payment(p.ORDER_ID)
    assert caught.value.details["http_status"] == status  # type: ignore[attr-defined]


def test_connection_failure_is_retryable(
    gateway: PayPalGateway, mock: responses.RequestsMock
) -> None:
    mock.get(ORDER_URL, body=requests.ConnectionError("reset"))
    with pytest.raises(ProviderUnavailableError):
        gateway.retrieve_payment(p.ORDER_ID)


def test_vault_a_payment_token_and_delete_it(
    gateway: PayPalGateway, mock: responses.RequestsMock
) -> None:
    customer = gateway.create_customer(
        CustomerProfile(external_id="lms-user-42"), idempotency_key="c"
    )
    mock.post(f"{API}/v3/vault/payment-tokens", json=p.PAYMENT_TOKEN, status=201)
    mock.delete(f"{API}/v3/vault/payment-tokens/8kk8451t", status=204)
    method = gateway.attach_payment_method(customer.id, "5C991763VB2781612", idempotency_key="v1")
    body = _json(_calls(mock, "/v3/vault/payment-tokens")[0])
    assert body["payment_source"] == {"token": {"id": "5C991763VB2781612", "type": "SETUP_TOKEN"}}
    assert (method.token, method.type, method.email) == (
        "8kk8451t",
        "paypal",
        "john.doe@example.com",
    )
    gateway.detach_payment_method("8kk8451t", idempotency_key="d1")


# --- webhooks ------------------------------------------------------------------------------


def _headers(sent: datetime = NOW) -> dict[str, str]:
    return {
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
        "PAYPAL-CERT-URL": "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42",
        "PAYPAL-TRANSMISSION-ID": "69cd13f0-d67a-11e5-baa3-778b53f4ae55",
        "PAYPAL-TRANSMISSION-SIG": "lmI95Jx3Y9nhR5SJWlHVIWpg4AgFk7n9bCHSRxbrd8A9zrhdu2rMyFrmz==",
        "PAYPAL-TRANSMISSION-TIME": transmission_time(sent),
    }


def test_webhook_verified_by_paypal_is_normalized(
    gateway: PayPalGateway, mock: responses.RequestsMock
) -> None:
    mock.post(
        f"{API}/v1/notifications/verify-webhook-signature", json={"verification_status": "SUCCESS"}
    )
    payload = json.dumps(p.WEBHOOK_CAPTURE_COMPLETED).encode()
    event = gateway.parse_webhook(payload, _headers())
    sent = _json(_calls(mock, "verify-webhook-signature")[0])
    assert sent["webhook_id"] == "1JE4291016473214C"
    assert sent["transmission_id"] == "69cd13f0-d67a-11e5-baa3-778b53f4ae55"
    assert sent["webhook_event"] == p.WEBHOOK_CAPTURE_COMPLETED
    assert event.type is WebhookEventType.PAYMENT_SUCCEEDED
    assert (event.id, event.payment_id, event.object_id) == (
        "WH-2CL46544TB770421K-5VB92446WP7345818",
        "89T257400V0473133",
        "29Y24445UY2083144",
    )
    assert (event.amount, event.currency) == (10000, "USD")
    assert event.metadata == {}  # the docs sample carries no custom_id


def test_webhook_echoes_our_references_from_custom_id(
    gateway: PayPalGateway, mock: responses.RequestsMock
) -> None:
    mock.post(
        f"{API}/v1/notifications/verify-webhook-signature", json={"verification_status": "SUCCESS"}
    )
    delivered = json.loads(json.dumps(p.WEBHOOK_CAPTURE_COMPLETED))
    delivered["resource"]["custom_id"] = "lms_invoice_id=in_9z8y&lms_payment_id=pay_0a1b"
    delivered["resource"]["invoice_id"] = "INV-2026-000042"
    event = gateway.parse_webhook(json.dumps(delivered).encode(), _headers())
    assert event.metadata == {
        "lms_invoice_id": "in_9z8y",
        "lms_payment_id": "pay_0a1b",
        "invoice_id": "INV-2026-000042",
    }


def test_refund_webhook(gateway: PayPalGateway, mock: responses.RequestsMock) -> None:
    mock.post(
        f"{API}/v1/notifications/verify-webhook-signature", json={"verification_status": "SUCCESS"}
    )
    event = gateway.parse_webhook(json.dumps(p.WEBHOOK_CAPTURE_REFUNDED).encode(), _headers())
    assert event.type is WebhookEventType.REFUND_SUCCEEDED
    assert (event.refund_id, event.amount) == ("1Y107995YT783435V", 99)


def test_webhook_paypal_rejects_is_refused(
    gateway: PayPalGateway, mock: responses.RequestsMock
) -> None:
    mock.post(
        f"{API}/v1/notifications/verify-webhook-signature", json={"verification_status": "FAILURE"}
    )
    with pytest.raises(WebhookSignatureError):
        gateway.parse_webhook(json.dumps(p.WEBHOOK_CAPTURE_COMPLETED).encode(), _headers())


def test_stale_or_unsigned_webhooks_are_refused_without_asking_paypal(
    gateway: PayPalGateway,
) -> None:
    payload = json.dumps(p.WEBHOOK_CAPTURE_COMPLETED).encode()
    with responses.RequestsMock() as nothing_sent:
        with pytest.raises(WebhookSignatureError, match="tolerance"):
            gateway.parse_webhook(payload, _headers(NOW - timedelta(minutes=11)))
        headers = _headers()
        del headers["PAYPAL-TRANSMISSION-SIG"]
        with pytest.raises(WebhookSignatureError, match="PAYPAL-TRANSMISSION-SIG"):
            gateway.parse_webhook(payload, headers)
        assert not nothing_sent.calls


# --- money on the wire ---------------------------------------------------------------------


@settings(max_examples=80)
@given(
    amount=st.integers(min_value=1, max_value=10**12),
    currency=st.sampled_from(["USD", "EUR", "JPY", "GBP", "CHF", "MXN"]),
)
def test_paypal_amounts_round_trip_exactly(amount: int, currency: str) -> None:
    wire = paypal_amount(amount, currency)
    assert "." not in wire["value"] if currency == "JPY" else wire["value"].count(".") == 1
    assert minor_from_paypal(wire) == (amount, currency)


def test_paypal_amount_never_rounds() -> None:
    assert paypal_amount(1999, "USD") == {"currency_code": "USD", "value": "19.99"}
    assert paypal_amount(150000, "HUF") == {"currency_code": "HUF", "value": "1500"}
    with pytest.raises(InvalidAmountError):
        minor_from_paypal({"currency_code": "USD", "value": "19.999"})
