"""Stripe objects (as plain JSON dicts) to lms-billing models, and Stripe errors to ours.

Pure functions over the JSON shapes in Stripe's API reference, so they are tested directly
with payloads from the reference. No SDK call happens here; only the error mapping imports
the SDK's exception classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import stripe

from lms_billing.domain.payments import (
    WEBHOOK_PAYMENT_STATUS,
    BalanceTransaction,
    CaptureMethod,
    GatewayCustomer,
    NextAction,
    PaymentMethodDetails,
    PaymentResult,
    PaymentStatus,
    Payout,
    RefundResult,
    RefundStatus,
    RiskLevel,
    RiskOutcome,
    SetupResult,
    WebhookEvent,
    WebhookEventType,
)
from lms_billing.errors import (
    AuthenticationRequiredError,
    BillingError,
    ConfigurationError,
    IdempotencyKeyMismatchError,
    PaymentDeclinedError,
    ProviderError,
    ProviderInvalidRequestError,
    ProviderUnavailableError,
)
from lms_billing.providers._common import decimal_from_json, from_timestamp

JsonObject = Mapping[str, Any]


def _id(value: object) -> str | None:
    """A Stripe reference: an id string, or an expanded object with an ``id``."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        found = value.get("id")
        return found if isinstance(found, str) else None
    return None


def _metadata(obj: JsonObject) -> dict[str, str]:
    return {str(k): str(v) for k, v in (obj.get("metadata") or {}).items()}


# --- objects -------------------------------------------------------------------------------


def customer_from_stripe(obj: JsonObject, gateway: str) -> GatewayCustomer:
    settings = obj.get("invoice_settings") or {}
    return GatewayCustomer(
        id=obj["id"],
        gateway=gateway,
        email=obj.get("email"),
        name=obj.get("name"),
        default_payment_method_id=_id(settings.get("default_payment_method")),
        metadata=_metadata(obj),
    )


def payment_method_from_stripe(obj: JsonObject, gateway: str) -> PaymentMethodDetails:
    card = obj.get("card") or {}
    billing = obj.get("billing_details") or {}
    return PaymentMethodDetails(
        token=obj["id"],
        gateway=gateway,
        type=obj.get("type") or "card",
        brand=card.get("brand"),
        last4=card.get("last4"),
        exp_month=card.get("exp_month"),
        exp_year=card.get("exp_year"),
        fingerprint=card.get("fingerprint"),
        country=card.get("country"),
        customer_id=_id(obj.get("customer")),
        email=billing.get("email"),
    )


def balance_transaction_from_stripe(obj: JsonObject, gateway: str) -> BalanceTransaction:
    return BalanceTransaction(
        id=obj["id"],
        gateway=gateway,
        type=obj.get("type") or "unknown",
        amount=obj["amount"],
        fee=obj.get("fee") or 0,
        net=obj["net"],
        currency=obj["currency"],
        exchange_rate=decimal_from_json(obj.get("exchange_rate")),
        source_id=_id(obj.get("source")),
        status=obj.get("status"),
        created=from_timestamp(obj.get("created")),
        available_on=from_timestamp(obj.get("available_on")),
    )


def payout_from_stripe(obj: JsonObject, gateway: str) -> Payout:
    return Payout(
        id=obj["id"],
        gateway=gateway,
        amount=obj["amount"],
        currency=obj["currency"],
        status=obj.get("status") or "pending",
        arrival_date=from_timestamp(obj.get("arrival_date")),
        created=from_timestamp(obj.get("created")),
        balance_transaction_id=_id(obj.get("balance_transaction")),
        failure_code=obj.get("failure_code"),
    )


def risk_from_charge(charge: JsonObject) -> RiskOutcome | None:
    """Stripe Radar's verdict from ``charge.outcome``."""
    outcome = charge.get("outcome")
    if not isinstance(outcome, Mapping):
        return None
    level = outcome.get("risk_level")
    return RiskOutcome(
        level=RiskLevel(level) if level in set(RiskLevel) else RiskLevel.UNKNOWN,
        score=outcome.get("risk_score"),
        outcome_type=outcome.get("type"),
        reason=outcome.get("reason"),
        rule=_id(outcome.get("rule")),
    )


def _next_action(intent: JsonObject) -> NextAction | None:
    action = intent.get("next_action")
    if not isinstance(action, Mapping):
        return None
    kind = str(action.get("type") or "unknown")
    redirect = action.get("redirect_to_url") or {}
    return NextAction(
        type=kind,
        url=redirect.get("url"),
        return_url=redirect.get("return_url"),
        client_secret=intent.get("client_secret"),
    )


def payment_from_stripe(intent: JsonObject, gateway: str) -> PaymentResult:
    """A PaymentIntent as a :class:`PaymentResult`.

    Stripe leaves a declined intent in ``requires_payment_method`` with a
    ``last_payment_error``; that is reported as ``failed`` with the decline code. When
    ``latest_charge`` is expanded (with its ``balance_transaction``), the Radar outcome,
    refunded amount and settlement are filled in.
    """
    error = intent.get("last_payment_error") or {}
    status = PaymentStatus(intent["status"])
    if status is PaymentStatus.REQUIRES_PAYMENT_METHOD and error.get("type") == "card_error":
        status = PaymentStatus.FAILED
    charge = intent.get("latest_charge")
    risk = None
    txn = None
    refunded = 0
    if isinstance(charge, Mapping):
        risk = risk_from_charge(charge)
        refunded = charge.get("amount_refunded") or 0
        if isinstance(charge.get("balance_transaction"), Mapping):
            txn = balance_transaction_from_stripe(charge["balance_transaction"], gateway)
    received = intent.get("amount_received")
    if received is None and isinstance(charge, Mapping) and charge.get("captured"):
        # Older API versions and some test servers omit amount_received: the captured
        # charge says the same thing.
        received = charge.get("amount_captured", charge.get("amount"))
    manual = intent.get("capture_method") == "manual"
    return PaymentResult(
        id=intent["id"],
        gateway=gateway,
        status=status,
        amount=intent["amount"],
        amount_received=received or 0,
        amount_capturable=intent.get("amount_capturable") or 0,
        amount_refunded=refunded,
        currency=intent["currency"],
        customer_id=_id(intent.get("customer")),
        payment_method=_id(intent.get("payment_method")) or _id(error.get("payment_method")),
        capture_method=CaptureMethod.MANUAL if manual else CaptureMethod.AUTOMATIC,
        charge_id=_id(charge),
        next_action=_next_action(intent),
        decline_code=error.get("decline_code")
        or (error.get("code") if error.get("code") == "authentication_required" else None),
        failure_code=error.get("code"),
        failure_message=error.get("message"),
        risk=risk,
        balance_transaction=txn,
        created=from_timestamp(intent.get("created")),
        metadata=_metadata(intent),
    )


def setup_from_stripe(intent: JsonObject, gateway: str) -> SetupResult:
    error = intent.get("last_setup_error") or {}
    return SetupResult(
        id=intent["id"],
        gateway=gateway,
        status=intent["status"],
        customer_id=_id(intent.get("customer")),
        payment_method=_id(intent.get("payment_method")),
        client_secret=intent.get("client_secret"),
        next_action=_next_action(intent),
        usage=intent.get("usage") or "off_session",
        failure_code=error.get("decline_code") or error.get("code"),
        failure_message=error.get("message"),
    )


def refund_from_stripe(obj: JsonObject, gateway: str) -> RefundResult:
    txn = obj.get("balance_transaction")
    status = obj.get("status") or "pending"
    return RefundResult(
        id=obj["id"],
        gateway=gateway,
        payment_id=_id(obj.get("payment_intent")) or _id(obj.get("charge")) or "",
        amount=obj["amount"],
        currency=obj["currency"],
        status=RefundStatus(status) if status in set(RefundStatus) else RefundStatus.PENDING,
        reason=obj.get("reason"),
        failure_reason=obj.get("failure_reason"),
        balance_transaction=balance_transaction_from_stripe(txn, gateway)
        if isinstance(txn, Mapping)
        else None,
        balance_transaction_id=_id(txn),
        created=from_timestamp(obj.get("created")),
        metadata=_metadata(obj),
    )


# --- webhooks ------------------------------------------------------------------------------

_EVENT_TYPES: dict[str, WebhookEventType] = {
    "payment_intent.succeeded": WebhookEventType.PAYMENT_SUCCEEDED,
    "payment_intent.payment_failed": WebhookEventType.PAYMENT_FAILED,
    "payment_intent.processing": WebhookEventType.PAYMENT_PROCESSING,
    "payment_intent.requires_action": WebhookEventType.PAYMENT_REQUIRES_ACTION,
    "payment_intent.amount_capturable_updated": WebhookEventType.PAYMENT_REQUIRES_CAPTURE,
    "payment_intent.canceled": WebhookEventType.PAYMENT_CANCELED,
    # charge.refunded carries the charge (cumulative amount_refunded), not the refund.
    "charge.refunded": WebhookEventType.REFUND_UPDATED,
    "refund.failed": WebhookEventType.REFUND_FAILED,
    "charge.dispute.created": WebhookEventType.DISPUTE_CREATED,
    "charge.dispute.closed": WebhookEventType.DISPUTE_CLOSED,
    "payment_method.attached": WebhookEventType.PAYMENT_METHOD_ATTACHED,
    "payment_method.detached": WebhookEventType.PAYMENT_METHOD_DETACHED,
    "payment_method.updated": WebhookEventType.PAYMENT_METHOD_UPDATED,
    "payment_method.automatically_updated": WebhookEventType.PAYMENT_METHOD_UPDATED,
    "payout.paid": WebhookEventType.PAYOUT_PAID,
    "payout.failed": WebhookEventType.PAYOUT_FAILED,
}

_REFUND_STATUS_EVENTS = {
    "succeeded": WebhookEventType.REFUND_SUCCEEDED,
    "failed": WebhookEventType.REFUND_FAILED,
    "canceled": WebhookEventType.REFUND_FAILED,
}


def event_from_stripe(event: JsonObject, gateway: str) -> WebhookEvent:
    """A verified Stripe event as a normalized :class:`WebhookEvent`."""
    provider_type = str(event["type"])
    obj: JsonObject = event.get("data", {}).get("object") or {}
    kind = obj.get("object")
    if provider_type in ("refund.created", "refund.updated", "charge.refund.updated"):
        normalized = _REFUND_STATUS_EVENTS.get(
            str(obj.get("status")), WebhookEventType.REFUND_UPDATED
        )
    else:
        normalized = _EVENT_TYPES.get(provider_type, WebhookEventType.UNHANDLED)
    payment_id = _id(obj.get("id" if kind == "payment_intent" else "payment_intent"))
    amount = obj.get("amount_refunded") if provider_type == "charge.refunded" else obj.get("amount")
    created = from_timestamp(event.get("created"))
    if created is None:
        raise ProviderInvalidRequestError("The Stripe event has no created timestamp.")
    return WebhookEvent(
        id=event["id"],
        gateway=gateway,
        type=normalized,
        provider_type=provider_type,
        created=created,
        object_id=_id(obj.get("id")),
        payment_id=payment_id,
        refund_id=_id(obj.get("id")) if kind == "refund" else None,
        customer_id=_id(obj.get("customer")),
        payment_status=WEBHOOK_PAYMENT_STATUS.get(normalized),
        amount=amount if isinstance(amount, int) else None,
        currency=obj.get("currency"),
        livemode=bool(event.get("livemode")),
        metadata=_metadata(obj),
        raw=dict(event),
    )


# --- errors --------------------------------------------------------------------------------


def map_stripe_error(exc: stripe.StripeError, provider: str = "stripe") -> BillingError:
    """Translate a Stripe SDK exception into the lms-billing error a caller can act on.

    ``CardError`` -> :class:`PaymentDeclinedError` (with ``decline_code``), or
    :class:`AuthenticationRequiredError` for ``authentication_required``; connection
    failures, rate limits and 5xx -> :class:`ProviderUnavailableError` (retryable);
    ``InvalidRequestError`` -> :class:`ProviderInvalidRequestError`; a reused idempotency key
    -> :class:`IdempotencyKeyMismatchError`; a bad API key -> :class:`ConfigurationError`.
    """
    error = exc.error
    code = exc.code or (error.code if error is not None else None)
    context: dict[str, Any] = {
        "provider": provider,
        "provider_code": code,
        "request_id": exc.request_id,
        "http_status": exc.http_status,
    }
    message = exc.user_message or str(exc)
    if isinstance(exc, stripe.CardError):
        decline_code = (error.decline_code if error is not None else None) or code
        if code == "authentication_required" or decline_code == "authentication_required":
            return AuthenticationRequiredError(message, **context)
        return PaymentDeclinedError(message, decline_code=decline_code, **context)
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError):
        return ProviderUnavailableError(message, **context)
    if isinstance(exc, stripe.IdempotencyError):
        return IdempotencyKeyMismatchError(message, **context)
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        return ConfigurationError(f"Stripe rejected the credentials: {message}", **context)
    if exc.http_status is not None and exc.http_status >= 500:
        return ProviderUnavailableError(message, **context)
    if isinstance(exc, stripe.InvalidRequestError):
        return ProviderInvalidRequestError(message, **context)
    if isinstance(exc, stripe.APIError):
        return ProviderUnavailableError(message, **context)
    return ProviderError(message, **context)


__all__ = [
    "balance_transaction_from_stripe",
    "customer_from_stripe",
    "event_from_stripe",
    "map_stripe_error",
    "payment_from_stripe",
    "payment_method_from_stripe",
    "payout_from_stripe",
    "refund_from_stripe",
    "risk_from_charge",
    "setup_from_stripe",
]
