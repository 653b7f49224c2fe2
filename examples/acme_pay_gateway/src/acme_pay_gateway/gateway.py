"""The Acme Pay gateway: what a third-party gateway plugin looks like.

A real plugin would call its provider's HTTP API here. To run offline, this one keeps Acme
Pay's "test mode" in memory: token ``acme_tok_ok`` pays, ``acme_tok_declined`` is declined
with ``insufficient_funds``. Everything else shows the contract every gateway follows:

* satisfy :class:`lms_billing.ports.PaymentGateway` (no base class needed);
* amounts are integer minor units plus a currency code;
* forward idempotency keys; a replay returns the first result;
* a decline is *returned* (``status=failed`` + ``decline_code``), provider failures are
  *raised* as ``lms_billing.errors.ProviderError`` subclasses;
* echo the request's ``metadata`` (lms-billing's ``lms_payment_id`` ...) on the payment and
  in webhook events, so a webhook finds its payment even when an answer was lost;
* ``parse_webhook`` verifies the signature before trusting anything, against the injected
  clock (the service's: a test clock in tests).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from lms_billing.clock import Clock, SystemClock
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
    RefundStatus,
    WebhookEvent,
    WebhookEventType,
)
from lms_billing.errors import ProviderInvalidRequestError
from lms_billing.providers.webhook_signing import verify_signature_header

SIGNATURE_HEADER = "Acme-Signature"
_TEST_TOKENS = {"acme_tok_ok": None, "acme_tok_declined": "insufficient_funds"}


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


class AcmePayGateway:
    """Acme Pay, in test mode."""

    name = "acme_pay"

    def __init__(self, webhook_secret: str, clock: Clock | None = None) -> None:
        self._webhook_secret = webhook_secret
        self._clock = clock or SystemClock()
        self._payments: dict[str, PaymentResult] = {}
        self._replays: dict[str, object] = {}

    def create_customer(
        self, customer: CustomerProfile, *, idempotency_key: str
    ) -> GatewayCustomer:
        return GatewayCustomer(id=_id("acme_cus"), gateway=self.name, email=customer.email)

    def update_customer(
        self, gateway_customer_id: str, customer: CustomerProfile, *, idempotency_key: str
    ) -> GatewayCustomer:
        return GatewayCustomer(id=gateway_customer_id, gateway=self.name, email=customer.email)

    def attach_payment_method(
        self, gateway_customer_id: str, token: str, *, idempotency_key: str
    ) -> PaymentMethodDetails:
        if token not in _TEST_TOKENS:
            raise ProviderInvalidRequestError(f"Unknown Acme token {token!r}.", provider=self.name)
        return PaymentMethodDetails(
            token=token, gateway=self.name, brand="acme", customer_id=gateway_customer_id
        )

    def detach_payment_method(self, payment_method_id: str, *, idempotency_key: str) -> None:
        return None

    def create_payment(self, request: PaymentRequest) -> PaymentResult:
        if request.idempotency_key in self._replays:
            replay = self._replays[request.idempotency_key]
            assert isinstance(replay, PaymentResult)
            return replay
        if request.payment_method not in _TEST_TOKENS:
            raise ProviderInvalidRequestError("Acme Pay needs a test token.", provider=self.name)
        decline = _TEST_TOKENS[request.payment_method]
        manual = request.capture_method is CaptureMethod.MANUAL
        if decline:
            status = PaymentStatus.FAILED
        else:
            status = PaymentStatus.REQUIRES_CAPTURE if manual else PaymentStatus.SUCCEEDED
        result = PaymentResult(
            id=_id("acme_pay"),
            gateway=self.name,
            status=status,
            amount=request.amount,
            amount_received=request.amount if status is PaymentStatus.SUCCEEDED else 0,
            amount_capturable=request.amount if status is PaymentStatus.REQUIRES_CAPTURE else 0,
            currency=request.currency,
            customer_id=request.customer_id,
            payment_method=request.payment_method,
            capture_method=request.capture_method,
            decline_code=decline,
            failure_code="card_declined" if decline else None,
            metadata=request.metadata,
        )
        self._payments[result.id] = result
        self._replays[request.idempotency_key] = result
        return result

    def confirm_payment(self, payment_id: str, *, idempotency_key: str) -> PaymentResult:
        return self.retrieve_payment(payment_id)

    def capture_payment(
        self, payment_id: str, amount_minor: int | None, *, idempotency_key: str
    ) -> PaymentResult:
        payment = self.retrieve_payment(payment_id)
        if payment.status is not PaymentStatus.REQUIRES_CAPTURE:
            raise ProviderInvalidRequestError("Nothing to capture.", provider=self.name)
        amount = payment.amount_capturable if amount_minor is None else amount_minor
        captured = payment.model_copy(
            update={
                "status": PaymentStatus.SUCCEEDED,
                "amount_received": amount,
                "amount_capturable": 0,
            }
        )
        self._payments[payment_id] = captured
        return captured

    def cancel_payment(self, payment_id: str, *, idempotency_key: str) -> PaymentResult:
        payment = self.retrieve_payment(payment_id)
        if payment.status is PaymentStatus.SUCCEEDED:
            raise ProviderInvalidRequestError("A paid payment cannot be canceled.")
        canceled = payment.model_copy(
            update={"status": PaymentStatus.CANCELED, "amount_capturable": 0}
        )
        self._payments[payment_id] = canceled
        return canceled

    def retrieve_payment(self, payment_id: str) -> PaymentResult:
        try:
            return self._payments[payment_id]
        except KeyError:
            raise ProviderInvalidRequestError(
                f"No Acme payment {payment_id!r}.", provider=self.name
            ) from None

    def refund(self, request: RefundRequest) -> RefundResult:
        if request.idempotency_key in self._replays:
            replay = self._replays[request.idempotency_key]
            assert isinstance(replay, RefundResult)
            return replay
        payment = self.retrieve_payment(request.payment_id)
        amount = payment.refundable_amount if request.amount is None else request.amount
        if amount <= 0 or amount > payment.refundable_amount:
            raise ProviderInvalidRequestError("Refund exceeds the payment.", provider=self.name)
        self._payments[payment.id] = payment.model_copy(
            update={"amount_refunded": payment.amount_refunded + amount}
        )
        refund = RefundResult(
            id=_id("acme_re"),
            gateway=self.name,
            payment_id=payment.id,
            amount=amount,
            currency=payment.currency,
            status=RefundStatus.SUCCEEDED,
            metadata=request.metadata,
        )
        self._replays[request.idempotency_key] = refund
        return refund

    def parse_webhook(self, payload: bytes, headers: dict[str, str]) -> WebhookEvent:
        lowered = {k.lower(): v for k, v in headers.items()}
        verify_signature_header(
            payload,
            lowered.get(SIGNATURE_HEADER.lower()),
            self._webhook_secret,
            now=self._clock.now(),
        )
        event = json.loads(payload)
        kind = {"payment.paid": WebhookEventType.PAYMENT_SUCCEEDED}.get(
            event["type"], WebhookEventType.UNHANDLED
        )
        return WebhookEvent(
            id=event["id"],
            gateway=self.name,
            type=kind,
            provider_type=event["type"],
            created=datetime.fromtimestamp(event["created"], tz=UTC),
            payment_id=event.get("payment_id"),
            metadata={str(k): str(v) for k, v in (event.get("metadata") or {}).items()},
            raw=event,
        )
