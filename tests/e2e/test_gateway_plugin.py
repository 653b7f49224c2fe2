"""The example gateway plugin package (examples/acme_pay_gateway), installed and loaded from
its `lms_billing` entry point, takes payments through `billing.payments` like a built-in:
checkout with a receipt, a decline as an outcome, a refund with its credit note, a signed
webhook deduplicated, and a renewal collected off session."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from lms_billing.domain.invoices import InvoiceStatus
from lms_billing.domain.payments import PaymentRequest, PaymentStatus, RefundStatus
from lms_billing.domain.subscriptions import SubscriptionStatus
from lms_billing.errors import WebhookSignatureError
from lms_billing.providers.webhook_signing import signature_header

from .support import Shop, make_shop

pytestmark = pytest.mark.usefixtures("acme_installed")


@pytest.fixture
def acme_shop(storage_url: str) -> Iterator[Shop]:
    opened = make_shop(storage_url, load_entrypoints=True)
    yield opened
    opened.billing.close()


def signed(event: dict[str, object]) -> tuple[bytes, dict[str, str]]:
    """Acme signs like Stripe, with its own header; the plugin reads the wall clock."""
    body = json.dumps(event).encode()
    return body, {"Acme-Signature": signature_header(body, "whsec_acme", int(time.time()))}


def test_the_installed_plugin_is_loaded_from_its_entry_point(acme_shop: Shop) -> None:
    gateway = acme_shop.billing.payments.gateway("acme_pay")
    assert type(gateway).__module__ == "acme_pay_gateway.gateway"
    # Its contract, directly: a decline is returned, never raised.
    declined = gateway.create_payment(
        PaymentRequest(
            amount=4900, currency="EUR", payment_method="acme_tok_declined", idempotency_key="d"
        )
    )
    assert (declined.status, declined.decline_code) == (PaymentStatus.FAILED, "insufficient_funds")


def test_a_learner_pays_refunds_and_renews_through_the_plugin(acme_shop: Shop) -> None:
    payments = acme_shop.billing.payments
    invoice = acme_shop.open_invoice()
    declined = payments.pay_invoice(
        invoice.id, gateway="acme_pay", payment_method="acme_tok_declined", idempotency_key="a-1"
    )
    assert (declined.status, declined.decline_code) == (PaymentStatus.FAILED, "insufficient_funds")
    paid = payments.pay_invoice(
        invoice.id, gateway="acme_pay", payment_method="acme_tok_ok", idempotency_key="a-2"
    )
    assert paid.status is PaymentStatus.SUCCEEDED and paid.verified
    assert acme_shop.invoice(invoice.id).status is InvoiceStatus.PAID
    [receipt] = acme_shop.billing.invoices.list_receipts(invoice_id=invoice.id)
    assert receipt.payment_id == paid.gateway_payment_id

    refund = payments.refund(paid.id, 1900, idempotency_key="a-rf")
    assert refund.status is RefundStatus.SUCCEEDED
    note = acme_shop.billing.invoices.get_credit_note(refund.credit_note_id or "")
    assert (note.refund_amount, note.currency) == (1900, "USD")
    assert payments.refund(paid.id, 1900, idempotency_key="a-rf") == refund

    # The plugin's signed webhook for the paid payment: verified, deduplicated, stale.
    event = {
        "id": "acme_evt_1",
        "type": "payment.paid",
        "created": int(acme_shop.clock.now().timestamp()),
        "payment_id": paid.gateway_payment_id,
        "metadata": {"lms_payment_id": paid.id},
    }
    body, headers = signed(event)
    assert payments.handle_webhook("acme_pay", body, headers).action == "stale"
    assert payments.handle_webhook("acme_pay", body, headers).duplicate
    with pytest.raises(WebhookSignatureError):
        payments.handle_webhook("acme_pay", body.replace(b"acme_evt_1", b"acme_evt_2"), headers)

    # A renewal collected off session with a saved Acme token.
    payments.attach_payment_method(
        acme_shop.customer.id, "acme_tok_ok", gateway="acme_pay", idempotency_key="a-pm"
    )
    sub = acme_shop.billing.subscriptions.create(
        acme_shop.customer.id, [{"price_id": acme_shop.monthly.id}], idempotency_key="a-sub"
    )
    assert payments.collect_due().paid == 1
    assert acme_shop.billing.subscriptions.get(sub.id).status is SubscriptionStatus.ACTIVE
