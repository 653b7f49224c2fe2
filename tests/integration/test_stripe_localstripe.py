"""The Stripe gateway against localstripe: a stateful fake Stripe server written by others.

The fixture starts ``localstripe`` on a free loopback port and points the real ``stripe`` SDK
(through :class:`StripeGateway`) at it. If the server cannot start, the tests fail: they are
part of the contract that our Stripe adapter speaks Stripe's actual wire protocol.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from lms_billing.domain.customers import CustomerProfile
from lms_billing.domain.payments import (
    CaptureMethod,
    PaymentRequest,
    PaymentStatus,
    RefundRequest,
)
from lms_billing.errors import PaymentDeclinedError
from lms_billing.providers.stripe_gateway import StripeGateway

STARTUP_TIMEOUT_S = 30.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _localstripe_command() -> list[str]:
    beside_python = Path(sys.executable).with_name("localstripe")
    if beside_python.exists():
        return [str(beside_python)]
    found = shutil.which("localstripe")
    if found is None:
        pytest.fail("localstripe is not installed (it is in the [dev] extra).")
    return [found]


@pytest.fixture(scope="module")
def localstripe_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log_path = tmp_path_factory.mktemp("localstripe") / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*_localstripe_command(), "--port", str(port), "--from-scratch"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=log_path.parent,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while True:
                if process.poll() is not None:
                    pytest.fail(f"localstripe exited early:\n{log_path.read_text()}")
                try:
                    requests.get(f"{url}/v1/customers", auth=("sk_test_x", ""), timeout=1)
                    break
                except requests.ConnectionError:
                    if time.monotonic() > deadline:
                        pytest.fail(f"localstripe did not start:\n{log_path.read_text()}")
                    time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def gateway(localstripe_url: str) -> StripeGateway:
    return StripeGateway("sk_test_localstripe", base_url=localstripe_url, max_network_retries=0)


def _card(gateway: StripeGateway, number: str) -> str:
    # Stripe.js does this in the browser in production: card data never reaches lms-billing.
    method = gateway.client.v1.payment_methods.create(
        {
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    return str(method.id)


def test_customer_saved_card_off_session_payment_and_partial_refund(
    gateway: StripeGateway,
) -> None:
    customer = gateway.create_customer(
        CustomerProfile(external_id="lms-user-42", email="ada@example.org", name="Ada"),
        idempotency_key="it-cus-1",
    )
    assert customer.id.startswith("cus_")
    assert customer.metadata == {"external_id": "lms-user-42"}

    method = gateway.attach_payment_method(
        customer.id, _card(gateway, "4242424242424242"), idempotency_key="it-pm-1"
    )
    assert (method.brand, method.last4, method.customer_id) == ("visa", "4242", customer.id)
    assert method.exp_year == 2034

    updated = gateway.set_default_payment_method(
        customer.id, method.token, idempotency_key="it-def-1"
    )
    assert updated.default_payment_method_id == method.token

    payment = gateway.create_payment(
        PaymentRequest(
            amount=2000,
            currency="USD",
            customer_id=customer.id,
            payment_method=method.token,
            off_session=True,
            idempotency_key="it-pay-1",
            metadata={"invoice_id": "in_1"},
        )
    )
    assert payment.status is PaymentStatus.SUCCEEDED
    assert (payment.amount, payment.amount_received, payment.currency) == (2000, 2000, "USD")
    assert payment.metadata == {"invoice_id": "in_1"}
    assert payment.balance_transaction is not None
    assert payment.balance_transaction.amount == 2000

    refund = gateway.refund(
        RefundRequest(payment_id=payment.id, amount=500, idempotency_key="it-refund-1")
    )
    assert (refund.amount, refund.currency, refund.status.value) == (500, "USD", "succeeded")
    assert refund.payment_id == payment.id

    again = gateway.retrieve_payment(payment.id)
    assert again.amount_refunded == 500
    assert again.refundable_amount == 1500


def test_declined_test_card_raises_a_typed_decline(gateway: StripeGateway) -> None:
    customer = gateway.create_customer(
        CustomerProfile(external_id="lms-user-43"), idempotency_key="it-cus-2"
    )
    with pytest.raises(PaymentDeclinedError) as caught:
        gateway.attach_payment_method(
            customer.id, _card(gateway, "4000000000000002"), idempotency_key="it-pm-2"
        )
    assert caught.value.decline_code == "card_declined"
    assert caught.value.details["http_status"] == 402


def test_manual_capture_and_cancel(gateway: StripeGateway) -> None:
    authorized = gateway.create_payment(
        PaymentRequest(
            amount=3000,
            currency="EUR",
            payment_method=_card(gateway, "4242424242424242"),
            capture_method=CaptureMethod.MANUAL,
            idempotency_key="it-auth-1",
        )
    )
    assert authorized.status is PaymentStatus.REQUIRES_CAPTURE
    captured = gateway.capture_payment(authorized.id, None, idempotency_key="it-cap-1")
    assert captured.status is PaymentStatus.SUCCEEDED

    other = gateway.create_payment(
        PaymentRequest(
            amount=3000,
            currency="EUR",
            payment_method=_card(gateway, "4242424242424242"),
            capture_method=CaptureMethod.MANUAL,
            idempotency_key="it-auth-2",
        )
    )
    assert gateway.cancel_payment(other.id, idempotency_key="it-cancel-2").status is (
        PaymentStatus.CANCELED
    )
