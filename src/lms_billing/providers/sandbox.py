"""The sandbox gateway: an offline, in-memory payment provider for development and tests.

It behaves like Stripe in test mode: magic tokens and amounts decline, require 3-D Secure,
fail on capture, time out or carry risk signals (see :mod:`.sandbox_cards`); idempotency keys
replay the first result; every state change emits a webhook signed with HMAC-SHA256 in
Stripe's ``t=...,v1=...`` scheme (header ``Sandbox-Signature``), which :meth:`parse_webhook`
verifies. Nothing leaves the process, and time comes from the injected clock.

>>> from lms_billing.domain.payments import PaymentRequest
>>> gateway = SandboxGateway()
>>> result = gateway.create_payment(PaymentRequest(
...     amount=1999, currency="EUR", payment_method="pm_card_visa", idempotency_key="k1"))
>>> result.status.value
'succeeded'
"""

from __future__ import annotations

from typing import Any

from lms_billing.domain.customers import CustomerProfile
from lms_billing.domain.payments import (
    WEBHOOK_PAYMENT_STATUS,
    CaptureMethod,
    GatewayCustomer,
    NextAction,
    PaymentMethodDetails,
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
    RefundRequest,
    RefundResult,
    RefundStatus,
    RiskLevel,
    RiskOutcome,
    WebhookEventType,
)
from lms_billing.errors import (
    ProviderInvalidRequestError,
    ProviderUnavailableError,
)
from lms_billing.ids import new_id
from lms_billing.providers.sandbox_cards import behaviour_for
from lms_billing.providers.sandbox_core import (
    DEFAULT_WEBHOOK_SECRET,
    SIGNATURE_HEADER,
    SignedWebhook,
    _Payment,
)
from lms_billing.providers.sandbox_setup import (
    AUTHENTICATION_URL,
    SandboxSetups,
    card_details,
)

_CANCELABLE = frozenset(
    {
        PaymentStatus.REQUIRES_PAYMENT_METHOD,
        PaymentStatus.REQUIRES_CONFIRMATION,
        PaymentStatus.REQUIRES_ACTION,
        PaymentStatus.REQUIRES_CAPTURE,
        PaymentStatus.FAILED,
    }
)


class SandboxGateway(SandboxSetups):
    """An offline :class:`~lms_billing.ports.PaymentGateway`.

    :param clock: time source for ``created`` stamps and the webhook tolerance window.
    :param webhook_secret: the endpoint secret webhooks are signed with.
    :param settlement_currency: the merchant balance currency; charges in another currency
        are converted with ``fx_rates`` (like a Stripe account settling in one currency).
    :param fx_rates: ``{("EUR", "USD"): Decimal("1.085")}`` = 1 EUR settles as 1.085 USD.
    :param fee_percent: processing fee in percent of the settled amount (default 2.9).
    :param fee_fixed: fixed fee in settlement minor units (default 30).
    """

    # --- customers and payment methods ------------------------------------------------------

    def create_customer(
        self, customer: CustomerProfile, *, idempotency_key: str
    ) -> GatewayCustomer:
        """Create a sandbox customer (``cus_sbx_...``) for an LMS customer profile."""

        def run() -> GatewayCustomer:
            created = GatewayCustomer(
                id=new_id("cus_sbx"),
                gateway=self.name,
                email=customer.email,
                name=customer.name,
                metadata={"external_id": customer.external_id},
            )
            self._state.customers[created.id] = created
            return created

        request = customer.model_dump(mode="json")
        return self._idempotent(idempotency_key, "create_customer", request, run)

    def update_customer(
        self, gateway_customer_id: str, customer: CustomerProfile, *, idempotency_key: str
    ) -> GatewayCustomer:
        """Copy a changed profile (email, name) to the sandbox customer."""

        def run() -> GatewayCustomer:
            existing = self._customer(gateway_customer_id)
            updated = existing.model_copy(update={"email": customer.email, "name": customer.name})
            self._state.customers[updated.id] = updated
            return updated

        request = [gateway_customer_id, customer.model_dump(mode="json")]
        return self._idempotent(idempotency_key, "update_customer", request, run)

    def retrieve_customer(self, gateway_customer_id: str) -> GatewayCustomer:
        """The sandbox customer as it is now (e.g. after ``update_customer``)."""
        return self._customer(gateway_customer_id)

    def set_default_payment_method(
        self, gateway_customer_id: str, payment_method_id: str, *, idempotency_key: str
    ) -> GatewayCustomer:
        """Make a saved payment method the customer's default for off-session charges."""

        def run() -> GatewayCustomer:
            self._method(payment_method_id)
            existing = self._customer(gateway_customer_id)
            updated = existing.model_copy(update={"default_payment_method_id": payment_method_id})
            self._state.customers[updated.id] = updated
            return updated

        request = [gateway_customer_id, payment_method_id]
        return self._idempotent(idempotency_key, "set_default", request, run)

    def attach_payment_method(
        self, gateway_customer_id: str, token: str, *, idempotency_key: str
    ) -> PaymentMethodDetails:
        """Save a magic token to a customer; returns a new ``pm_sbx_...`` payment method."""

        def run() -> PaymentMethodDetails:
            self._customer(gateway_customer_id)
            return self._save_method(gateway_customer_id, token)

        request = [gateway_customer_id, token]
        return self._idempotent(idempotency_key, "attach", request, run)

    def detach_payment_method(self, payment_method_id: str, *, idempotency_key: str) -> None:
        """Detach a saved payment method; it can no longer be charged."""

        def run() -> None:
            method = self._method(payment_method_id)
            del self._state.methods[payment_method_id]
            self._emit(WebhookEventType.PAYMENT_METHOD_DETACHED, "payment_method", method.details)

        self._idempotent(idempotency_key, "detach", payment_method_id, run)

    def retrieve_payment_method(self, payment_method_id: str) -> PaymentMethodDetails:
        """A saved method, or what a magic token stands for (like Stripe's ``GET
        /v1/payment_methods/pm_card_visa``): the same fingerprint as when it is saved."""
        if payment_method_id in self._state.methods:
            return self._method(payment_method_id).details
        card, source = self._card_for(payment_method_id)
        return card_details(card, source, token=payment_method_id, gateway=self.name)

    # --- payments --------------------------------------------------------------------------

    def create_payment(self, request: PaymentRequest) -> PaymentResult:
        """Create and (unless ``confirm=False``) confirm a payment."""

        def run() -> PaymentResult:
            payment_method = request.payment_method
            if request.customer_id is not None:
                customer = self._customer(request.customer_id)
                payment_method = payment_method or customer.default_payment_method_id
            if payment_method is None:
                raise ProviderInvalidRequestError(
                    "A payment method is required.",
                    provider=self.name,
                    provider_code="parameter_missing",
                )
            card, _ = self._card_for(payment_method, customer_id=request.customer_id)
            card = behaviour_for(card, request.amount)
            saved = self._state.methods.get(payment_method)
            if card.timeout and request.confirm:
                raise ProviderUnavailableError(
                    "The sandbox timed out (magic timeout card or amount).", provider=self.name
                )
            payment = _Payment(
                result=PaymentResult(
                    id=new_id("pi_sbx"),
                    gateway=self.name,
                    status=PaymentStatus.REQUIRES_CONFIRMATION,
                    amount=request.amount,
                    currency=request.currency,
                    customer_id=request.customer_id,
                    payment_method=payment_method,
                    capture_method=request.capture_method,
                    created=self._clock.now(),
                    metadata=request.metadata,
                ),
                card=card,
                authenticated=request.off_session
                and saved is not None
                and saved.authenticated_off_session,
            )
            self._state.payments[payment.result.id] = payment
            if request.confirm:
                self._confirm(
                    payment, off_session=request.off_session, return_url=request.return_url
                )
            return payment.result

        dumped = request.model_dump(mode="json")
        return self._idempotent(request.idempotency_key, "create_payment", dumped, run)

    def confirm_payment(self, payment_id: str, *, idempotency_key: str) -> PaymentResult:
        """Confirm a payment created with ``confirm=False`` (or re-check after 3-D Secure)."""

        def run() -> PaymentResult:
            payment = self._payment(payment_id)
            status = payment.result.status
            if status is PaymentStatus.REQUIRES_CONFIRMATION:
                if payment.card.timeout:
                    raise ProviderUnavailableError("The sandbox timed out.", provider=self.name)
                self._confirm(payment, off_session=False, return_url=None)
            elif status is not PaymentStatus.REQUIRES_ACTION:
                raise self._bad_state(payment, "confirm")
            return payment.result

        return self._idempotent(idempotency_key, "confirm", payment_id, run)

    def complete_authentication(self, payment_id: str, *, succeed: bool = True) -> PaymentResult:
        """Play the customer finishing (or failing) the 3-D Secure challenge."""
        payment = self._payment(payment_id)
        if payment.result.status is not PaymentStatus.REQUIRES_ACTION:
            raise self._bad_state(payment, "authenticate")
        if succeed:
            payment.authenticated = True
            self._authorize(payment)
        else:
            self._set(
                payment,
                status=PaymentStatus.FAILED,
                next_action=None,
                failure_code="payment_intent_authentication_failure",
                failure_message="The customer failed 3-D Secure authentication.",
            )
        return payment.result

    def complete_processing(
        self, payment_id: str, *, succeed: bool = True, decline_code: str = "insufficient_funds"
    ) -> PaymentResult:
        """Play an async debit (``pm_debit_processing``) settling, or failing with
        ``decline_code``, days later; emits ``payment.succeeded`` / ``payment.failed``."""
        payment = self._payment(payment_id)
        if payment.result.status is not PaymentStatus.PROCESSING:
            raise self._bad_state(payment, "complete processing of")
        if succeed:
            self._succeed(payment, payment.result.amount)
        else:
            self._set(
                payment,
                status=PaymentStatus.FAILED,
                decline_code=decline_code,
                failure_code="payment_method_declined",
                failure_message=f"The debit failed ({decline_code}).",
            )
        return payment.result

    def capture_payment(
        self, payment_id: str, amount_minor: int | None, *, idempotency_key: str
    ) -> PaymentResult:
        """Capture an authorized payment, fully or partly (the rest is released)."""

        def run() -> PaymentResult:
            payment = self._payment(payment_id)
            if payment.result.status is not PaymentStatus.REQUIRES_CAPTURE:
                raise self._bad_state(payment, "capture")
            capturable = payment.result.amount_capturable
            amount = capturable if amount_minor is None else amount_minor
            if amount <= 0 or amount > capturable:
                raise ProviderInvalidRequestError(
                    f"Cannot capture {amount}: {capturable} is capturable.",
                    provider=self.name,
                    provider_code="amount_too_large",
                )
            if payment.card.capture_fails:
                # Like an expired authorization at Stripe: the intent is canceled.
                self._set(payment, status=PaymentStatus.CANCELED, amount_capturable=0)
                raise ProviderInvalidRequestError(
                    "The authorization expired before capture.",
                    provider=self.name,
                    provider_code="charge_expired_for_capture",
                    payment_id=payment_id,
                )
            self._succeed(payment, amount)
            return payment.result

        return self._idempotent(idempotency_key, "capture", [payment_id, amount_minor], run)

    def cancel_payment(self, payment_id: str, *, idempotency_key: str) -> PaymentResult:
        """Cancel a payment that has not succeeded (releases an authorization)."""

        def run() -> PaymentResult:
            payment = self._payment(payment_id)
            if payment.result.status not in _CANCELABLE:
                raise self._bad_state(payment, "cancel")
            self._set(payment, status=PaymentStatus.CANCELED, amount_capturable=0, next_action=None)
            return payment.result

        return self._idempotent(idempotency_key, "cancel", payment_id, run)

    def retrieve_payment(self, payment_id: str) -> PaymentResult:
        return self._payment(payment_id).result

    # --- refunds ---------------------------------------------------------------------------

    def refund(self, request: RefundRequest) -> RefundResult:
        """Refund all or part of a succeeded payment; never more than is left."""

        def run() -> RefundResult:
            payment = self._payment(request.payment_id)
            if payment.result.status is not PaymentStatus.SUCCEEDED:
                raise self._bad_state(payment, "refund")
            remaining = payment.result.refundable_amount
            amount = remaining if request.amount is None else request.amount
            if amount <= 0 or amount > remaining:
                raise ProviderInvalidRequestError(
                    f"Refund amount {amount} is greater than the unrefunded amount {remaining}.",
                    provider=self.name,
                    provider_code="amount_too_large",
                )
            refund_id = new_id("re_sbx")
            currency = payment.result.currency
            txn = self._balance_transaction("refund", refund_id, -amount, currency)
            result = RefundResult(
                id=refund_id,
                gateway=self.name,
                payment_id=payment.result.id,
                amount=amount,
                currency=currency,
                status=RefundStatus.SUCCEEDED,
                reason=request.reason.value if request.reason else None,
                balance_transaction=txn,
                created=self._clock.now(),
                metadata=request.metadata,
            )
            self._state.refunds[refund_id] = result
            payment.result = payment.result.model_copy(
                update={"amount_refunded": payment.result.amount_refunded + amount}
            )
            self._emit(WebhookEventType.REFUND_SUCCEEDED, "refund", result)
            return result

        dumped = request.model_dump(mode="json")
        return self._idempotent(request.idempotency_key, "refund", dumped, run)

    def fail_refund(
        self, refund_id: str, *, reason: str = "expired_or_canceled_card"
    ) -> RefundResult:
        """Play a refund that fails after it succeeded (the card was closed meanwhile, as
        Stripe reports days later): the money returns to the balance; emits
        ``refund.failed``."""
        with self._lock:
            refund = self._state.refunds.get(refund_id)
            if refund is None or refund.status is not RefundStatus.SUCCEEDED:
                raise ProviderInvalidRequestError(
                    f"No succeeded refund {refund_id!r} to fail.",
                    provider=self.name,
                    provider_code="resource_missing",
                )
            payment = self._payment(refund.payment_id)
            failed = refund.model_copy(
                update={"status": RefundStatus.FAILED, "failure_reason": reason}
            )
            self._state.refunds[refund_id] = failed
            payment.result = payment.result.model_copy(
                update={"amount_refunded": payment.result.amount_refunded - refund.amount}
            )
            self._balance_transaction("refund_failure", refund_id, refund.amount, refund.currency)
            self._emit(WebhookEventType.REFUND_FAILED, "refund", failed)
            return failed

    # --- internals -------------------------------------------------------------------------

    def _confirm(self, payment: _Payment, *, off_session: bool, return_url: str | None) -> None:
        card = payment.card
        if card.requires_authentication and not payment.authenticated:
            if off_session:
                self._set(
                    payment,
                    status=PaymentStatus.FAILED,
                    decline_code="authentication_required",
                    failure_code="authentication_required",
                    failure_message="This payment requires the customer to authenticate.",
                )
            else:
                self._set(
                    payment,
                    status=PaymentStatus.REQUIRES_ACTION,
                    next_action=NextAction(
                        type="redirect_to_url",
                        url=AUTHENTICATION_URL.format(payment_id=payment.result.id),
                        return_url=return_url,
                    ),
                )
            return
        self._authorize(payment)

    def _authorize(self, payment: _Payment) -> None:
        card = payment.card
        declined = card.decline_code is not None
        if declined and card.risk_level is RiskLevel.HIGHEST:
            outcome, reason = "blocked", "highest_risk_level"
        else:
            outcome, reason = ("issuer_declined" if declined else "authorized"), None
        risk = RiskOutcome(
            level=card.risk_level, score=card.risk_score, outcome_type=outcome, reason=reason
        )
        if card.decline_code is not None:
            self._set(
                payment,
                status=PaymentStatus.FAILED,
                next_action=None,
                decline_code=card.decline_code,
                failure_code="card_declined",
                failure_message=f"Your card was declined ({card.decline_code}).",
                risk=risk,
            )
            return
        if card.processing:  # an async debit: the bank answers days later
            self._set(payment, status=PaymentStatus.PROCESSING, next_action=None, risk=risk)
            return
        if payment.result.capture_method is CaptureMethod.MANUAL:
            self._set(
                payment,
                status=PaymentStatus.REQUIRES_CAPTURE,
                next_action=None,
                amount_capturable=payment.result.amount,
                risk=risk,
            )
            return
        payment.result = payment.result.model_copy(update={"risk": risk})
        self._succeed(payment, payment.result.amount)

    def _succeed(self, payment: _Payment, amount: int) -> None:
        charge_id = new_id("ch_sbx")
        txn = self._balance_transaction("charge", charge_id, amount, payment.result.currency)
        self._set(
            payment,
            status=PaymentStatus.SUCCEEDED,
            next_action=None,
            amount_received=amount,
            amount_capturable=0,
            charge_id=charge_id,
            balance_transaction=txn,
        )

    def _set(self, payment: _Payment, **changes: Any) -> None:
        before = payment.result.status
        payment.result = payment.result.model_copy(update=changes)
        if payment.result.status is not before:
            event_type = {status: event for event, status in WEBHOOK_PAYMENT_STATUS.items()}.get(
                payment.result.status
            )
            if event_type is not None:
                self._emit(event_type, "payment", payment.result)


__all__ = ["DEFAULT_WEBHOOK_SECRET", "SIGNATURE_HEADER", "SandboxGateway", "SignedWebhook"]
