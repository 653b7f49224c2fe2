"""PayPal REST payloads for `responses` mocks, from /work/shared/provider-samples (Orders v2,
Payments v2, webhooks) plus Vault v3 and OAuth shapes from PayPal's API reference."""

from __future__ import annotations

import copy
from typing import Any

TOKEN: dict[str, Any] = {
    "scope": "https://uri.paypal.com/services/payments/payment",
    "access_token": "A21AAFs-test-access-token",
    "token_type": "Bearer",
    "app_id": "APP-80W284485P519543T",
    "expires_in": 32400,
    "nonce": "2026-11-25T10:00:00ZnonceXYZ",
}

ORDER_ID = "5O190127TN364715T"

CREATED: dict[str, Any] = {
    "id": ORDER_ID,
    "status": "CREATED",
    "links": [
        {
            "href": f"https://api-m.paypal.com/v2/checkout/orders/{ORDER_ID}",
            "rel": "self",
            "method": "GET",
        },
        {
            "href": f"https://www.paypal.com/checkoutnow?token={ORDER_ID}",
            "rel": "approve",
            "method": "GET",
        },
        {
            "href": f"https://api-m.paypal.com/v2/checkout/orders/{ORDER_ID}",
            "rel": "update",
            "method": "PATCH",
        },
        {
            "href": f"https://api-m.paypal.com/v2/checkout/orders/{ORDER_ID}/capture",
            "rel": "capture",
            "method": "POST",
        },
    ],
}

PAYER_ACTION_REQUIRED: dict[str, Any] = {
    "id": ORDER_ID,
    "status": "PAYER_ACTION_REQUIRED",
    "payment_source": {"paypal": {}},
    "links": [
        {
            "href": f"https://api-m.paypal.com/v2/checkout/orders/{ORDER_ID}",
            "rel": "self",
            "method": "GET",
        },
        {
            "href": f"https://www.paypal.com/checkoutnow?token={ORDER_ID}",
            "rel": "payer-action",
            "method": "GET",
        },
    ],
}

CAPTURE_ID = "7KY78659SG487110K"

# The "Capture payment for order" example, verbatim in shape.
CAPTURED: dict[str, Any] = {
    "id": "24F22464WC842504J",
    "status": "COMPLETED",
    "purchase_units": [
        {
            "reference_id": "default",
            "payments": {
                "captures": [
                    {
                        "id": CAPTURE_ID,
                        "status": "COMPLETED",
                        "amount": {"currency_code": "USD", "value": "100.00"},
                        "final_capture": True,
                        "seller_protection": {
                            "status": "ELIGIBLE",
                            "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"],
                        },
                        "seller_receivable_breakdown": {
                            "gross_amount": {"currency_code": "USD", "value": "100.00"},
                            "paypal_fee": {"currency_code": "USD", "value": "3.98"},
                            "net_amount": {"currency_code": "USD", "value": "96.02"},
                        },
                        "links": [],
                        "create_time": "2021-11-14T23:38:52Z",
                        "update_time": "2021-11-14T23:38:52Z",
                    }
                ]
            },
        }
    ],
    "payer": {
        "name": {"given_name": "FooBuyer", "surname": "Jones"},
        "email_address": "foobuyer@gmail.com",
        "payer_id": "QYR5Z8XDVJNXQ",
        "address": {"country_code": "US"},
    },
    "links": [
        {
            "href": "https://api.sandbox.paypal.com/v2/checkout/orders/24F22464WC842504J",
            "rel": "self",
            "method": "GET",
        }
    ],
}


def order(
    status: str,
    intent: str = "CAPTURE",
    payments: dict[str, Any] | None = None,
    value: str = "100.00",
    currency: str = "USD",
) -> dict[str, Any]:
    """A full order representation as GET /v2/checkout/orders/:id returns it."""
    unit: dict[str, Any] = {
        "reference_id": "default",
        "amount": {"currency_code": currency, "value": value},
        "payee": {"email_address": "merchant@example.com", "merchant_id": "7KNGBPH2U58GQ"},
    }
    if payments is not None:
        unit["payments"] = payments
    return {
        "id": ORDER_ID,
        "intent": intent,
        "status": status,
        "purchase_units": [unit],
        "create_time": "2026-11-25T09:00:00Z",
        "links": [
            {
                "href": f"https://api-m.sandbox.paypal.com/v2/checkout/orders/{ORDER_ID}",
                "rel": "self",
                "method": "GET",
            }
        ],
    }


def captured_order(refunds: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    capture = copy.deepcopy(CAPTURED["purchase_units"][0]["payments"]["captures"][0])
    payments: dict[str, Any] = {"captures": [capture]}
    if refunds:
        payments["refunds"] = refunds
        capture["status"] = "PARTIALLY_REFUNDED"
    return order("COMPLETED", payments=payments)


AUTHORIZATION_ID = "0VF52814937998046"


def authorized_order(status: str = "CREATED") -> dict[str, Any]:
    return order(
        "COMPLETED",
        intent="AUTHORIZE",
        payments={
            "authorizations": [
                {
                    "id": AUTHORIZATION_ID,
                    "status": status,
                    "amount": {"currency_code": "USD", "value": "100.00"},
                    "expiration_time": "2026-12-24T09:00:00Z",
                    "create_time": "2026-11-25T09:00:00Z",
                }
            ]
        },
    )


REFUND: dict[str, Any] = {
    "id": "55105082X5896632E",
    "amount": {"currency_code": "USD", "value": "10.00"},
    "note_to_payer": "Defective product",
    "seller_payable_breakdown": {
        "gross_amount": {"currency_code": "USD", "value": "10.00"},
        "paypal_fee": {"currency_code": "USD", "value": "0.35"},
        "net_amount": {"currency_code": "USD", "value": "9.65"},
        "total_refunded_amount": {"currency_code": "USD", "value": "30.00"},
    },
    "invoice_id": "1644280607",
    "status": "COMPLETED",
    "create_time": "2022-02-07T16:36:47-08:00",
    "update_time": "2022-02-07T16:36:47-08:00",
    "links": [],
}

PAYMENT_TOKEN: dict[str, Any] = {
    "id": "8kk8451t",
    "customer": {"id": "084afbf1", "merchant_customer_id": "lms-user-42"},
    "payment_source": {
        "paypal": {
            "description": "Description for PayPal to be shown to PayPal payer",
            "email_address": "john.doe@example.com",
            "payer_id": "VYYFH3WJ4JPJQ",
            "name": {"given_name": "John", "surname": "Doe"},
            "usage_type": "MERCHANT",
            "customer_type": "CONSUMER",
        }
    },
    "links": [
        {
            "rel": "self",
            "href": "https://api-m.sandbox.paypal.com/v3/vault/payment-tokens/8kk8451t",
            "method": "GET",
        }
    ],
}


def unprocessable(
    issue: str, description: str = "The instrument presented was declined."
) -> dict[str, Any]:
    return {
        "name": "UNPROCESSABLE_ENTITY",
        "details": [{"issue": issue, "description": description}],
        "message": "The requested action could not be performed, semantically incorrect, "
        "or failed business validation.",
        "debug_id": "90957fca61718",
        "links": [
            {
                "href": f"https://developer.paypal.com/docs/api/orders/v2/#error-{issue}",
                "rel": "information_link",
                "method": "GET",
            }
        ],
    }


# PayPal's documented webhook samples (verbatim).
WEBHOOK_CAPTURE_COMPLETED: dict[str, Any] = {
    "id": "WH-2CL46544TB770421K-5VB92446WP7345818",
    "create_time": "2022-02-02T00:23:12.336Z",
    "resource_type": "capture",
    "event_type": "PAYMENT.CAPTURE.COMPLETED",
    "summary": "Payment completed for $ 100.0 USD",
    "resource": {
        "disbursement_mode": "INSTANT",
        "amount": {"value": "100.00", "currency_code": "USD"},
        "seller_protection": {"status": "NOT_ELIGIBLE"},
        "supplementary_data": {"related_ids": {"order_id": "89T257400V0473133"}},
        "update_time": "2022-02-02T00:22:38Z",
        "create_time": "2022-02-02T00:22:38Z",
        "final_capture": True,
        "seller_receivable_breakdown": {
            "paypal_fee": {"value": "3.98", "currency_code": "USD"},
            "gross_amount": {"value": "100.00", "currency_code": "USD"},
            "net_amount": {"value": "96.02", "currency_code": "USD"},
        },
        "processor_response": {"cvv_code": "M", "response_code": "0000", "avs_code": "A"},
        "links": [
            {
                "method": "GET",
                "rel": "self",
                "href": "https://api.sandbox.paypal.com/v2/payments/captures/29Y24445UY2083144",
            },
            {
                "method": "POST",
                "rel": "refund",
                "href": "https://api.sandbox.paypal.com/v2/payments/captures/29Y24445UY2083144/refund",
            },
            {
                "method": "GET",
                "rel": "up",
                "href": "https://api.sandbox.paypal.com/v2/checkout/orders/89T257400V0473133",
            },
        ],
        "id": "29Y24445UY2083144",
        "status": "COMPLETED",
    },
    "links": [
        {
            "href": "https://api.sandbox.paypal.com/v1/notifications/webhooks-events/WH-2CL46544TB770421K-5VB92446WP7345818",
            "rel": "self",
            "method": "GET",
            "encType": "application/json",
        },
        {
            "href": "https://api.sandbox.paypal.com/v1/notifications/webhooks-events/WH-2CL46544TB770421K-5VB92446WP7345818/resend",
            "rel": "resend",
            "method": "POST",
            "encType": "application/json",
        },
    ],
    "event_version": "1.0",
    "resource_version": "2.0",
}

WEBHOOK_CAPTURE_REFUNDED: dict[str, Any] = {
    "id": "WH-1GE84257G0350133W-6RW800890C634293G",
    "create_time": "2018-08-15T19:14:04.543Z",
    "resource_type": "refund",
    "event_type": "PAYMENT.CAPTURE.REFUNDED",
    "summary": "A $ 0.99 USD capture payment was refunded",
    "resource": {
        "seller_payable_breakdown": {
            "gross_amount": {"currency_code": "USD", "value": "0.99"},
            "paypal_fee": {"currency_code": "USD", "value": "0.02"},
            "net_amount": {"currency_code": "USD", "value": "0.97"},
            "total_refunded_amount": {"currency_code": "USD", "value": "1.98"},
        },
        "amount": {"currency_code": "USD", "value": "0.99"},
        "update_time": "2018-08-15T12:13:29-07:00",
        "create_time": "2018-08-15T12:13:29-07:00",
        "links": [
            {
                "href": "https://api.paypal.com/v2/payments/refunds/1Y107995YT783435V",
                "rel": "self",
                "method": "GET",
            },
            {
                "href": "https://api.paypal.com/v2/payments/captures/0JF852973C016714D",
                "rel": "up",
                "method": "GET",
            },
        ],
        "id": "1Y107995YT783435V",
        "status": "COMPLETED",
    },
    "links": [
        {
            "href": "https://api.paypal.com/v1/notifications/webhooks-events/WH-1GE84257G0350133W-6RW800890C634293G",
            "rel": "self",
            "method": "GET",
            "encType": "application/json",
        },
        {
            "href": "https://api.paypal.com/v1/notifications/webhooks-events/WH-1GE84257G0350133W-6RW800890C634293G/resend",
            "rel": "resend",
            "method": "POST",
            "encType": "application/json",
        },
    ],
    "event_version": "1.0",
    "resource_version": "2.0",
}


def transaction(
    transaction_id: str,
    event_code: str,
    value: str,
    at: str,
    fee: str | None = None,
    status: str = "S",
) -> dict[str, Any]:
    """One ``transaction_details[]`` entry of Transaction Search (fields=transaction_info),
    shaped like PayPal's reporting API reference."""
    info: dict[str, Any] = {
        "paypal_account_id": "6STWC2LSUYYYE",
        "transaction_id": transaction_id,
        "transaction_event_code": event_code,
        "transaction_initiation_date": at,
        "transaction_updated_date": at,
        "transaction_amount": {"currency_code": "USD", "value": value},
        "transaction_status": status,
        "ending_balance": {"currency_code": "USD", "value": "1465.00"},
        "available_balance": {"currency_code": "USD", "value": "1465.00"},
        "protection_eligibility": "02",
    }
    if fee is not None:
        info["fee_amount"] = {"currency_code": "USD", "value": fee}
    return {"transaction_info": info}


def transaction_search(
    *details: dict[str, Any], page: int = 1, total_pages: int = 1
) -> dict[str, Any]:
    """A ``GET /v1/reporting/transactions`` response page."""
    return {
        "transaction_details": list(details),
        "account_number": "XZXSPECPDZHZU",
        "start_date": "2026-10-25T10:00:00+0000",
        "end_date": "2026-11-25T10:00:00+0000",
        "last_refreshed_datetime": "2026-11-25T06:59:59+0000",
        "page": page,
        "total_items": len(details),
        "total_pages": total_pages,
        "links": [
            {
                "href": "https://api-m.sandbox.paypal.com/v1/reporting/transactions"
                f"?page_size=500&page={page}",
                "rel": "self",
                "method": "GET",
            }
        ],
    }
