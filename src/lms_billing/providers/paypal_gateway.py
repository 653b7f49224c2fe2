"""The PayPal gateway, on PayPal's maintained server SDK (``paypal-server-sdk``).

How PayPal maps onto the gateway port:

* a *payment* is an Orders v2 order (``payment.id`` is the order id);
* ``create_payment`` without a saved method creates an order whose ``next_action`` is the
  approve link (``requires_action``); after the buyer approves, ``confirm_payment``
  captures it (or authorizes it for ``capture_method=manual``);
* with a vaulted payment token (``payment_method``) the order is charged at once, which is
  how recurring renewals are collected off session;
* ``capture_payment``/``cancel_payment`` capture or void the order's authorization;
* refunds go to the order's capture; webhooks are verified by PayPal's
  ``/v1/notifications/verify-webhook-signature`` endpoint (:mod:`.paypal_webhooks`);
* balance transactions and payouts come from the Transaction Search API
  (:mod:`.paypal_reporting`).

The SDK uses ``requests`` underneath (apimatic's requests adapter), so tests mock it with
``responses``. The PayPal-Request-Id header carries the idempotency key.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from lms_billing.domain.customers import CustomerProfile
from lms_billing.domain.payments import (
    CaptureMethod,
    GatewayCustomer,
    PaymentMethodDetails,
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
    RefundRequest,
    RefundResult,
)
from lms_billing.errors import (
    AuthenticationRequiredError,
    PaymentDeclinedError,
    PaymentError,
    ProviderInvalidRequestError,
)
from lms_billing.providers.paypal_client import (
    DECLINE_ISSUES,
    PAYER_ACTION_ISSUES,
    json_body,
    map_paypal_error,
)
from lms_billing.providers.paypal_mapping import (
    authorizations,
    captures,
    payment_from_order,
    payment_token_from_paypal,
    paypal_amount,
    refund_from_paypal,
)
from lms_billing.providers.paypal_reporting import PayPalReporting
from lms_billing.providers.paypal_webhooks import WEBHOOK_HEADERS, PayPalWebhooks, transmission_time

# The id of a failed attempt for which PayPal created no order (a refused vault charge).
NO_ORDER_PREFIX = "no-order:"
CUSTOM_ID_LIMIT = 127


class PayPalGateway(PayPalWebhooks, PayPalReporting):
    """A :class:`~lms_billing.ports.PaymentGateway` for PayPal (Orders v2 + Vault v3).

    :param client_id: REST app client id. :param client_secret: its secret.
    :param webhook_id: the id of the webhook subscription (for signature verification).
    :param environment: ``"sandbox"`` (default) or ``"production"``.
    :param brand_name: shown to the buyer on PayPal's approval page.
    :param clock: "now" for the webhook replay window (``webhook_tolerance``) and the
        reporting date range.
    :param timeout: seconds per HTTP call. :param webhook_tolerance: how old a delivery may be.

    Reconciliation (:class:`~lms_billing.ports.ReconciliationSource`) comes from the
    Transaction Search API, see :mod:`.paypal_reporting`.
    """

    # --- customers and payment methods ------------------------------------------------------

    def create_customer(
        self, customer: CustomerProfile, *, idempotency_key: str
    ) -> GatewayCustomer:
        """PayPal has no customer object outside the vault: the LMS id is used as the
        merchant customer id that vaulted tokens are filed under (no API call)."""
        return GatewayCustomer(
            id=customer.external_id,
            gateway=self.name,
            email=customer.email,
            name=customer.name,
            metadata={"external_id": customer.external_id},
        )

    def update_customer(
        self, gateway_customer_id: str, customer: CustomerProfile, *, idempotency_key: str
    ) -> GatewayCustomer:
        """Nothing to update at PayPal (no customer object; payer details come with each
        order): returns the customer as lms-billing now knows it (no API call)."""
        return GatewayCustomer(
            id=gateway_customer_id,
            gateway=self.name,
            email=customer.email,
            name=customer.name,
            metadata={"external_id": customer.external_id},
        )

    def attach_payment_method(
        self, gateway_customer_id: str, token: str, *, idempotency_key: str
    ) -> PaymentMethodDetails:
        """Exchange an approved *setup token* (from PayPal's JS SDK) for a vaulted payment
        token: ``POST /v3/vault/payment-tokens``."""
        body = {
            "customer": {"merchant_customer_id": gateway_customer_id},
            "payment_source": {"token": {"id": token, "type": "SETUP_TOKEN"}},
        }
        created = self._json(
            lambda: self.client.vault.create_payment_token(
                {"body": json.dumps(body), "paypal_request_id": idempotency_key}
            )
        )
        return payment_token_from_paypal(created, self.name)

    def detach_payment_method(self, payment_method_id: str, *, idempotency_key: str) -> None:
        """``DELETE /v3/vault/payment-tokens/:id``."""
        with self._errors():
            self.client.vault.delete_payment_token(payment_method_id)

    # --- payments --------------------------------------------------------------------------

    def create_payment(self, request: PaymentRequest) -> PaymentResult:
        """``POST /v2/checkout/orders``.

        With ``payment_method`` (a vault id) the order is charged at once (renewals):
        ``payment_source.card.vault_id`` for a saved card (``payment_method_type="card"``),
        ``venmo.vault_id`` for Venmo, else ``paypal.vault_id``, with a merchant-initiated
        ``stored_credential`` when ``off_session``. Otherwise the result is
        ``requires_action`` with the buyer's approve link. Our references
        (``lms_payment_id`` ...) travel in the purchase unit's ``custom_id`` and come back
        in ``PaymentResult.metadata`` and webhooks.
        """
        unit: dict[str, Any] = {
            "amount": paypal_amount(request.amount, request.currency),
        }
        if request.description:
            unit["description"] = request.description[:127]
        if "invoice_id" in request.metadata:
            # Shown to the buyer; PayPal refuses a reused invoice_id by default, so it is
            # sent only when the caller gives one (a retry must then use another).
            unit["invoice_id"] = request.metadata["invoice_id"][:127]
        custom_id = custom_id_for(request.metadata)
        if custom_id:
            unit["custom_id"] = custom_id
        body: dict[str, Any] = {
            "intent": "AUTHORIZE" if request.capture_method is CaptureMethod.MANUAL else "CAPTURE",
            "purchase_units": [unit],
        }
        if request.payment_method:
            body["payment_source"] = vault_source(request)
        else:
            context: dict[str, Any] = {"user_action": "PAY_NOW"}
            if request.return_url:
                context["return_url"] = request.return_url
            if request.cancel_url:
                context["cancel_url"] = request.cancel_url
            if self._brand_name:
                context["brand_name"] = self._brand_name
            body["payment_source"] = {"paypal": {"experience_context": context}}
        try:
            order = self._json(
                lambda: self.client.orders.create_order(
                    {
                        "body": json.dumps(body),
                        "paypal_request_id": request.idempotency_key,
                        "prefer": "return=representation",
                    }
                )
            )
        except PaymentError as refused:
            # A vault charge PayPal refused outright (422 INSTRUMENT_DECLINED ...): PayPal
            # created no order, but a decline is still an outcome, never an exception.
            return self._refused(request, refused)
        return payment_from_order(
            order, self.name, fallback_amount=(request.amount, request.currency)
        )

    def _refused(self, request: PaymentRequest, refused: PaymentError) -> PaymentResult:
        """A failed :class:`PaymentResult` for a charge PayPal refused without an order.

        Its id is ``no-order:<idempotency key>`` (unique per attempt; there is nothing to
        retrieve at PayPal), ``decline_code`` is PayPal's issue in lower case, or
        ``authentication_required`` when the buyer must act at PayPal first.
        """
        if isinstance(refused, PaymentDeclinedError) and refused.decline_code:
            decline = refused.decline_code
        else:
            decline = "authentication_required"
        return PaymentResult(
            id=f"{NO_ORDER_PREFIX}{request.idempotency_key}",
            gateway=self.name,
            status=PaymentStatus.FAILED,
            amount=request.amount,
            currency=request.currency,
            customer_id=request.customer_id,
            payment_method=request.payment_method,
            capture_method=request.capture_method,
            decline_code=decline,
            failure_code="declined",
            failure_message=refused.message[:500],
            created=self._clock.now(),
            metadata=dict(request.metadata),
        )

    def confirm_payment(self, payment_id: str, *, idempotency_key: str) -> PaymentResult:
        """Capture (or authorize, for manual capture) an order the buyer approved."""
        order = self._order(payment_id)
        options = {
            "id": payment_id,
            "paypal_request_id": idempotency_key,
            "prefer": "return=representation",
        }
        if str(order.get("intent")).upper() == "AUTHORIZE":
            return self._settle(lambda: self.client.orders.authorize_order(options), payment_id)
        return self._settle(lambda: self.client.orders.capture_order(options), payment_id)

    def _settle(self, call: Callable[[], Any], order_id: str) -> PaymentResult:
        """A capture/authorize call; a declined funding source is returned as an outcome
        (``failed`` with the decline code), as the port promises for declines, and so is a
        buyer who must act at PayPal again (``PAYER_ACTION_REQUIRED``: ``requires_action``
        with the order's payer-action link when PayPal gives one)."""
        try:
            with self._errors():
                return payment_from_order(json_body(call()), self.name)
        except PaymentDeclinedError as declined:
            current = payment_from_order(self._order(order_id), self.name)
            return current.model_copy(
                update={
                    "status": PaymentStatus.FAILED,
                    "next_action": None,
                    "decline_code": declined.decline_code,
                    "failure_code": "declined",
                    "failure_message": declined.message,
                }
            )
        except AuthenticationRequiredError as action:
            current = payment_from_order(self._order(order_id), self.name)
            if current.next_action is not None:
                return current.model_copy(update={"status": PaymentStatus.REQUIRES_ACTION})
            return current.model_copy(
                update={
                    "status": PaymentStatus.FAILED,
                    "decline_code": "authentication_required",
                    "failure_code": "payer_action_required",
                    "failure_message": action.message,
                }
            )

    def capture_payment(
        self, payment_id: str, amount_minor: int | None, *, idempotency_key: str
    ) -> PaymentResult:
        """Capture the order's authorization (partly when ``amount_minor`` is given)."""
        order = self._order(payment_id)
        auth = self._open_authorization(order, payment_id, "capture")
        body: dict[str, Any] = {"final_capture": True}
        if amount_minor is not None:
            body["amount"] = paypal_amount(amount_minor, auth["amount"]["currency_code"])
        self._json(
            lambda: self.client.payments.capture_authorized_payment(
                {
                    "authorization_id": auth["id"],
                    "paypal_request_id": idempotency_key,
                    "body": json.dumps(body),
                }
            )
        )
        return payment_from_order(self._order(payment_id), self.name)

    def cancel_payment(self, payment_id: str, *, idempotency_key: str) -> PaymentResult:
        """Void the order's authorization. Unapproved orders cannot be canceled at PayPal;
        they expire on their own."""
        order = self._order(payment_id)
        auth = self._open_authorization(order, payment_id, "cancel")
        with self._errors():
            self.client.payments.void_payment(
                {"authorization_id": auth["id"], "paypal_request_id": idempotency_key}
            )
        return payment_from_order(self._order(payment_id), self.name)

    def _open_authorization(
        self, order: dict[str, Any], payment_id: str, action: str
    ) -> dict[str, Any]:
        for auth in authorizations(order):
            if auth.get("status") == "CREATED":
                return dict(auth)
        raise ProviderInvalidRequestError(
            f"Cannot {action} PayPal order {payment_id}: it has no open authorization.",
            provider=self.name,
            provider_code="NO_OPEN_AUTHORIZATION",
        )

    def retrieve_payment(self, payment_id: str) -> PaymentResult:
        """``GET /v2/checkout/orders/:id``: what services verify before marking paid."""
        if payment_id.startswith(NO_ORDER_PREFIX):
            raise ProviderInvalidRequestError(
                f"PayPal created no order for the refused attempt {payment_id!r}.",
                provider=self.name,
                provider_code="NO_ORDER",
            )
        return payment_from_order(self._order(payment_id), self.name)

    # --- refunds ---------------------------------------------------------------------------

    def refund(self, request: RefundRequest) -> RefundResult:
        """Refund the order's capture: ``POST /v2/payments/captures/:id/refund``."""
        order = self._order(request.payment_id)
        completed = [
            c for c in captures(order) if c.get("status") in {"COMPLETED", "PARTIALLY_REFUNDED"}
        ]
        if not completed:
            raise ProviderInvalidRequestError(
                f"PayPal order {request.payment_id} has no capture to refund.",
                provider=self.name,
                provider_code="NO_CAPTURE",
            )
        capture = completed[-1]
        body: dict[str, Any] = {}
        if request.amount is not None:
            body["amount"] = paypal_amount(request.amount, capture["amount"]["currency_code"])
        if "credit_note_id" in request.metadata:
            body["invoice_id"] = request.metadata["credit_note_id"]
        if request.reason is not None:
            body["note_to_payer"] = request.reason.value.replace("_", " ")
        refunded = self._json(
            lambda: self.client.payments.refund_captured_payment(
                {
                    "capture_id": capture["id"],
                    "paypal_request_id": request.idempotency_key,
                    "prefer": "return=representation",
                    "body": json.dumps(body),
                }
            )
        )
        return refund_from_paypal(refunded, self.name, request.payment_id)


def custom_id_for(metadata: dict[str, str]) -> str | None:
    """The purchase unit's ``custom_id``: our references (``lms_*`` metadata) as a query
    string, e.g. ``lms_invoice_id=in_..&lms_payment_id=pay_..`` (PayPal's limit is 127
    characters: the payment id alone when both do not fit), else the caller's
    ``custom_id``."""
    refs = {k: v for k, v in sorted(metadata.items()) if k.startswith("lms_")}
    encoded = urlencode(refs)
    if len(encoded) > CUSTOM_ID_LIMIT and "lms_payment_id" in refs:
        encoded = urlencode({"lms_payment_id": refs["lms_payment_id"]})
    if refs and len(encoded) <= CUSTOM_ID_LIMIT:
        return encoded
    custom = metadata.get("custom_id")
    return custom[:CUSTOM_ID_LIMIT] if custom else None


def vault_source(request: PaymentRequest) -> dict[str, Any]:
    """``payment_source`` charging a vaulted payment token of the method's kind."""
    kind = request.payment_method_type or "paypal"
    source: dict[str, Any] = {"vault_id": request.payment_method}
    if kind == "card":
        if request.off_session:  # merchant-initiated, card on file (network rules)
            source["stored_credential"] = {
                "payment_initiator": "MERCHANT",
                "payment_type": "RECURRING",
                "usage": "SUBSEQUENT",
            }
        return {"card": source}
    if request.off_session:
        source["stored_credential"] = {
            "payment_initiator": "MERCHANT",
            "usage": "SUBSEQUENT",
            "usage_pattern": "SUBSCRIPTION_PREPAID",
        }
    return {"venmo" if kind == "venmo" else "paypal": source}


__all__ = [
    "CUSTOM_ID_LIMIT",
    "DECLINE_ISSUES",
    "NO_ORDER_PREFIX",
    "PAYER_ACTION_ISSUES",
    "WEBHOOK_HEADERS",
    "PayPalGateway",
    "custom_id_for",
    "map_paypal_error",
    "transmission_time",
    "vault_source",
]
