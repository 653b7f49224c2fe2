"""Stripe API payloads for `responses` mocks, built from /work/shared/provider-samples
(trimmed from Stripe's OpenAPI fixtures) with values made consistent per scenario."""

from __future__ import annotations

import copy
from typing import Any

CUSTOMER: dict[str, Any] = {
    "id": "cus_RBillTest0001",
    "object": "customer",
    "address": None,
    "balance": 0,
    "created": 1732233600,
    "currency": None,
    "default_source": None,
    "delinquent": False,
    "description": None,
    "email": "ada@example.org",
    "invoice_prefix": "7FE1103",
    "invoice_settings": {
        "custom_fields": None,
        "default_payment_method": None,
        "footer": None,
        "rendering_options": None,
    },
    "livemode": False,
    "metadata": {"external_id": "lms-user-42"},
    "name": "Ada Lovelace",
    "next_invoice_sequence": 1,
    "phone": None,
    "preferred_locales": ["en-GB"],
    "tax_exempt": "none",
    "test_clock": None,
}

PAYMENT_METHOD: dict[str, Any] = {
    "id": "pm_1QxLmsBillTest0001",
    "object": "payment_method",
    "allow_redisplay": "unspecified",
    "billing_details": {
        "address": {
            "city": None,
            "country": None,
            "line1": None,
            "line2": None,
            "postal_code": None,
            "state": None,
        },
        "email": None,
        "name": None,
        "phone": None,
        "tax_id": None,
    },
    "card": {
        "brand": "visa",
        "checks": {
            "address_line1_check": None,
            "address_postal_code_check": None,
            "cvc_check": "pass",
        },
        "country": "US",
        "display_brand": "visa",
        "exp_month": 12,
        "exp_year": 2030,
        "fingerprint": "Xt5EWLLDS7FJjR1c",
        "funding": "credit",
        "last4": "4242",
        "networks": {"available": ["visa"], "preferred": None},
        "wallet": None,
    },
    "created": 1735689600,
    "customer": "cus_RBillTest0001",
    "livemode": False,
    "metadata": {},
    "type": "card",
}

BALANCE_TRANSACTION: dict[str, Any] = {
    "id": "txn_3QxLmsBillTest0001",
    "object": "balance_transaction",
    "amount": 2171,
    "available_on": 1735862400,
    "created": 1735689600,
    "currency": "usd",
    "description": None,
    "exchange_rate": 1.0853,
    "fee": 93,
    "fee_details": [
        {
            "amount": 93,
            "application": None,
            "currency": "usd",
            "description": "Stripe processing fees",
            "type": "stripe_fee",
        }
    ],
    "net": 2078,
    "reporting_category": "charge",
    "source": "ch_3QxLmsBillTest0001",
    "status": "pending",
    "type": "charge",
}

CHARGE: dict[str, Any] = {
    "id": "ch_3QxLmsBillTest0001",
    "object": "charge",
    "amount": 2000,
    "amount_captured": 2000,
    "amount_refunded": 0,
    "balance_transaction": BALANCE_TRANSACTION,
    "captured": True,
    "created": 1735689600,
    "currency": "eur",
    "customer": "cus_RBillTest0001",
    "disputed": False,
    "failure_code": None,
    "failure_message": None,
    "livemode": False,
    "metadata": {"invoice_id": "in_1"},
    "outcome": {
        "advice_code": None,
        "network_advice_code": None,
        "network_decline_code": None,
        "network_status": "approved_by_network",
        "reason": None,
        "risk_level": "elevated",
        "risk_score": 67,
        "seller_message": "Payment complete.",
        "type": "authorized",
    },
    "paid": True,
    "payment_intent": "pi_3QxLmsBillTest0001",
    "payment_method": "pm_1QxLmsBillTest0001",
    "payment_method_details": {
        "type": "card",
        "card": {
            "brand": "visa",
            "last4": "4242",
            "exp_month": 12,
            "exp_year": 2030,
            "funding": "credit",
            "country": "US",
            "network": "visa",
        },
    },
    "refunded": False,
    "status": "succeeded",
}

PAYMENT_INTENT_SUCCEEDED: dict[str, Any] = {
    "id": "pi_3QxLmsBillTest0001",
    "object": "payment_intent",
    "amount": 2000,
    "amount_capturable": 0,
    "amount_received": 2000,
    "application_fee_amount": None,
    "canceled_at": None,
    "cancellation_reason": None,
    "capture_method": "automatic",
    "client_secret": "pi_3QxLmsBillTest0001_secret_redacted",
    "confirmation_method": "automatic",
    "created": 1735689600,
    "currency": "eur",
    "customer": "cus_RBillTest0001",
    "description": None,
    "last_payment_error": None,
    "latest_charge": CHARGE,
    "livemode": False,
    "metadata": {"invoice_id": "in_1"},
    "next_action": None,
    "payment_method": "pm_1QxLmsBillTest0001",
    "payment_method_types": ["card"],
    "status": "succeeded",
}


def intent(**changes: Any) -> dict[str, Any]:
    """A copy of the succeeded PaymentIntent with fields changed."""
    data = copy.deepcopy(PAYMENT_INTENT_SUCCEEDED)
    data.update(changes)
    return data


PAYMENT_INTENT_REQUIRES_ACTION = intent(
    amount_received=0,
    latest_charge=None,
    status="requires_action",
    next_action={
        "type": "use_stripe_sdk",
        "use_stripe_sdk": {
            "type": "three_d_secure_redirect",
            "stripe_js": "https://hooks.stripe.com/redirect/authenticate/src_redacted",
            "source": "src_redacted",
        },
    },
)

PAYMENT_INTENT_REQUIRES_CAPTURE = intent(
    amount_received=0,
    amount_capturable=2000,
    capture_method="manual",
    status="requires_capture",
    latest_charge=dict(CHARGE, captured=False, amount_captured=0, balance_transaction=None),
)


def declined_intent(decline_code: str, code: str = "card_declined") -> dict[str, Any]:
    return intent(
        amount_received=0,
        status="requires_payment_method",
        payment_method=None,
        latest_charge="ch_3QxLmsBillTest0002",
        last_payment_error={
            "type": "card_error",
            "code": code,
            "decline_code": decline_code,
            "message": "Your card was declined.",
            "doc_url": "https://stripe.com/docs/error-codes/card-declined",
            "charge": "ch_3QxLmsBillTest0002",
            "payment_method": dict(PAYMENT_METHOD, card=dict(PAYMENT_METHOD["card"], last4="9995")),
        },
    )


def card_error(
    decline_code: str, code: str = "card_declined", with_intent: bool = True
) -> dict[str, Any]:
    error: dict[str, Any] = {
        "type": "card_error",
        "code": code,
        "decline_code": decline_code,
        "message": "Your card was declined.",
        "doc_url": "https://stripe.com/docs/error-codes/card-declined",
        "charge": "ch_3QxLmsBillTest0002",
    }
    if with_intent:
        error["payment_intent"] = declined_intent(decline_code, code)
    return {"error": error}


REFUND: dict[str, Any] = {
    "id": "re_3QxLmsBillTest0001",
    "object": "refund",
    "amount": 500,
    "balance_transaction": "txn_3QxLmsBillTest0003",
    "charge": "ch_3QxLmsBillTest0001",
    "created": 1735693200,
    "currency": "eur",
    "destination_details": {"card": {"type": "reversal"}, "type": "card"},
    "metadata": {},
    "payment_intent": "pi_3QxLmsBillTest0001",
    "reason": "requested_by_customer",
    "receipt_number": None,
    "source_transfer_reversal": None,
    "status": "succeeded",
    "transfer_reversal": None,
}

SETUP_INTENT: dict[str, Any] = {
    "id": "seti_1QxLmsBillTest0001",
    "object": "setup_intent",
    "application": None,
    "cancellation_reason": None,
    "client_secret": "seti_1QxLmsBillTest0001_secret_redacted",
    "created": 1735689600,
    "customer": "cus_RBillTest0001",
    "description": None,
    "last_setup_error": None,
    "latest_attempt": None,
    "livemode": False,
    "mandate": None,
    "metadata": {},
    "next_action": None,
    "on_behalf_of": None,
    "payment_method": None,
    "payment_method_types": ["card"],
    "single_use_mandate": None,
    "status": "requires_payment_method",
    "usage": "off_session",
}

PAYOUT: dict[str, Any] = {
    "id": "po_1QxLmsBillTest0001",
    "object": "payout",
    "amount": 2078,
    "arrival_date": 1735948800,
    "automatic": True,
    "balance_transaction": "txn_1QxLmsBillTest0009",
    "created": 1735862400,
    "currency": "usd",
    "description": "STRIPE PAYOUT",
    "destination": "ba_1QxLmsBillTest0001",
    "failure_balance_transaction": None,
    "failure_code": None,
    "failure_message": None,
    "livemode": False,
    "metadata": {},
    "method": "standard",
    "source_type": "card",
    "statement_descriptor": None,
    "status": "paid",
    "type": "bank_account",
}


def list_of(url: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {"object": "list", "data": list(items), "has_more": False, "url": url}


def event(
    event_type: str, obj: dict[str, Any], event_id: str = "evt_3QxLmsBillTest0001"
) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2025-08-27.basil",
        "created": 1735689605,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": "req_redacted", "idempotency_key": "idem_redacted"},
        "type": event_type,
    }
