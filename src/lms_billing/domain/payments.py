"""Payments as the gateways report them, normalized across providers.

Every gateway (sandbox, Stripe, PayPal or a plugin) speaks these models, so services never see
a provider's own objects. Amounts are integer minor units plus an ISO 4217 code. Statuses follow
Stripe's PaymentIntent vocabulary; :data:`PaymentStatus.FAILED` is added for an attempt that was
declined (Stripe leaves such an intent in ``requires_payment_method``).

The rules over these models (status ordering for out-of-order webhooks, verification before
marking paid, refund limits, outcome -> exception) live in :mod:`.payment_rules`.

No model here ever holds card data: payment methods are gateway tokens with brand, last4,
expiry and fingerprint, and free-text fields are scanned by
:func:`lms_billing.domain.card_data.reject_card_data`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lms_billing.domain.card_data import reject_card_data
from lms_billing.errors import InvalidAmountError, ValidationError
from lms_billing.money import CurrencyCode, MinorUnits, Money, SignedMinorUnits, from_minor_units

# --- enums -------------------------------------------------------------------------------


class PaymentStatus(StrEnum):
    """Normalized payment status (Stripe's PaymentIntent names, plus ``failed``)."""

    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    REQUIRES_CAPTURE = "requires_capture"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"
    FAILED = "failed"


class CaptureMethod(StrEnum):
    """``automatic`` charges at once; ``manual`` only authorizes (capture later)."""

    AUTOMATIC = "automatic"
    MANUAL = "manual"


class RefundStatus(StrEnum):
    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class RefundReason(StrEnum):
    """Stripe's refund reasons."""

    DUPLICATE = "duplicate"
    FRAUDULENT = "fraudulent"
    REQUESTED_BY_CUSTOMER = "requested_by_customer"


class RiskLevel(StrEnum):
    """Stripe Radar's ``outcome.risk_level`` (``not_assessed`` when the provider has none)."""

    NORMAL = "normal"
    ELEVATED = "elevated"
    HIGHEST = "highest"
    NOT_ASSESSED = "not_assessed"
    UNKNOWN = "unknown"


class WebhookEventType(StrEnum):
    """Normalized inbound webhook types, the same for every gateway."""

    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_FAILED = "payment.failed"
    PAYMENT_PROCESSING = "payment.processing"
    PAYMENT_REQUIRES_ACTION = "payment.requires_action"
    PAYMENT_REQUIRES_CAPTURE = "payment.requires_capture"
    PAYMENT_CANCELED = "payment.canceled"
    REFUND_SUCCEEDED = "refund.succeeded"
    REFUND_FAILED = "refund.failed"
    REFUND_UPDATED = "refund.updated"
    DISPUTE_CREATED = "dispute.created"
    DISPUTE_CLOSED = "dispute.closed"
    PAYMENT_METHOD_ATTACHED = "payment_method.attached"
    PAYMENT_METHOD_DETACHED = "payment_method.detached"
    PAYMENT_METHOD_UPDATED = "payment_method.updated"
    PAYOUT_PAID = "payout.paid"
    PAYOUT_FAILED = "payout.failed"
    UNHANDLED = "unhandled"


# Which payment status each payment webhook reports (for status_supersedes checks).
WEBHOOK_PAYMENT_STATUS: dict[WebhookEventType, PaymentStatus] = {
    WebhookEventType.PAYMENT_SUCCEEDED: PaymentStatus.SUCCEEDED,
    WebhookEventType.PAYMENT_FAILED: PaymentStatus.FAILED,
    WebhookEventType.PAYMENT_PROCESSING: PaymentStatus.PROCESSING,
    WebhookEventType.PAYMENT_REQUIRES_ACTION: PaymentStatus.REQUIRES_ACTION,
    WebhookEventType.PAYMENT_REQUIRES_CAPTURE: PaymentStatus.REQUIRES_CAPTURE,
    WebhookEventType.PAYMENT_CANCELED: PaymentStatus.CANCELED,
}


# --- shared validators -------------------------------------------------------------------


def _no_card_data(value: Any, field: str) -> Any:
    reject_card_data(value, field=field)
    return value


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


# --- customers and payment methods ------------------------------------------------------


class GatewayCustomer(_Frozen):
    """The provider's record of a customer (``cus_...`` at Stripe)."""

    id: str = Field(min_length=1)
    gateway: str = Field(min_length=1)
    email: str | None = None
    name: str | None = None
    default_payment_method_id: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)

    @field_validator("metadata", "name", "email")
    @classmethod
    def _card_free(cls, value: Any) -> Any:
        return _no_card_data(value, "customer")


class PaymentMethodDetails(_Frozen):
    """A stored payment method: a gateway token and display data, never card data.

    ``token`` is the provider's id (``pm_...``, a PayPal vault token id); ``fingerprint``
    identifies the same card across customers (for fraud velocity rules).
    """

    token: str = Field(min_length=1)
    gateway: str = Field(min_length=1)
    type: str = "card"
    brand: str | None = None
    last4: str | None = Field(default=None, pattern=r"^\d{4}$")
    exp_month: int | None = Field(default=None, ge=1, le=12)
    exp_year: int | None = Field(default=None, ge=2000, le=2200)
    fingerprint: str | None = None
    country: str | None = Field(default=None, description="Issuing country (ISO 3166-1).")
    customer_id: str | None = None
    email: str | None = Field(default=None, description="Wallet payer email (PayPal).")

    @field_validator("token", "brand", "fingerprint", "email")
    @classmethod
    def _card_free(cls, value: Any) -> Any:
        return _no_card_data(value, "payment_method")

    def is_expired(self, now: datetime) -> bool:
        """A card is valid through the last day of its expiry month."""
        if self.exp_month is None or self.exp_year is None:
            return False
        return (now.year, now.month) > (self.exp_year, self.exp_month)

    def expires_within(self, now: datetime, months: int = 1) -> bool:
        """True when the card expires this month or within ``months`` more months.

        Use it to emit "card expiring" notifications before a renewal fails.
        """
        if self.exp_month is None or self.exp_year is None:
            return False
        current = now.year * 12 + now.month - 1
        expiry = self.exp_year * 12 + self.exp_month - 1
        return current <= expiry <= current + months


# --- payments ----------------------------------------------------------------------------


class NextAction(_Frozen):
    """What the customer must do before the payment continues (3-D Secure, PayPal approval).

    ``type`` is ``redirect_to_url`` (send the customer to ``url``), ``use_stripe_sdk`` (hand
    ``client_secret`` to Stripe.js) or ``approve`` (PayPal's approve / payer-action link).
    """

    type: str
    url: str | None = None
    return_url: str | None = None
    client_secret: str | None = None


class RiskOutcome(_Frozen):
    """The provider's own fraud assessment (Stripe Radar's ``charge.outcome``)."""

    level: RiskLevel = RiskLevel.NOT_ASSESSED
    score: int | None = Field(default=None, ge=0, le=100)
    outcome_type: str | None = Field(
        default=None, description="authorized, manual_review, issuer_declined, blocked, invalid"
    )
    reason: str | None = None
    rule: str | None = None


class BalanceTransaction(_Frozen):
    """Money as it lands in the merchant's balance: the settlement side of a payment.

    ``amount``/``fee``/``net`` are in the *settlement* ``currency``; ``exchange_rate`` is the
    provider's rate from the charge currency to it (None when no conversion happened).
    """

    id: str
    gateway: str
    type: str = Field(description="charge, refund, payout, adjustment, ...")
    amount: SignedMinorUnits
    fee: SignedMinorUnits = 0
    net: SignedMinorUnits
    currency: CurrencyCode
    exchange_rate: Decimal | None = None
    source_id: str | None = None
    status: str | None = Field(default=None, description="pending or available")
    created: datetime | None = None
    available_on: datetime | None = None

    @field_validator("exchange_rate", mode="before")
    @classmethod
    def _no_float_rate(cls, value: object) -> object:
        if isinstance(value, float | bool):
            # Adapters convert the provider's JSON number with decimal_from_json first.
            raise ValidationError("Exchange rates must be Decimal or str, never float.")
        return value

    @field_validator("exchange_rate")
    @classmethod
    def _positive_rate(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and (not value.is_finite() or value <= 0):
            raise ValidationError(f"Exchange rate must be positive, got {value}.")
        return value


class Payout(_Frozen):
    """A transfer from the provider balance to the merchant's bank account."""

    id: str
    gateway: str
    amount: MinorUnits
    currency: CurrencyCode
    status: str = Field(description="pending, in_transit, paid, failed, canceled")
    arrival_date: datetime | None = None
    created: datetime | None = None
    balance_transaction_id: str | None = None
    failure_code: str | None = None


class SetupResult(_Frozen):
    """Saving a payment method for later off-session use (a Stripe SetupIntent).

    ``status`` is Stripe's: ``requires_payment_method``, ``requires_confirmation``,
    ``requires_action`` (``next_action`` says what), ``processing``, ``succeeded``,
    ``canceled``. Hand ``client_secret`` to the front end to collect the card. After a
    failed attempt (authentication failed) the status is back to
    ``requires_payment_method`` with ``failure_code`` / ``failure_message``.
    """

    id: str = Field(min_length=1)
    gateway: str = Field(min_length=1)
    status: str
    customer_id: str | None = None
    payment_method: str | None = None
    client_secret: str | None = None
    next_action: NextAction | None = None
    usage: str = "off_session"
    failure_code: str | None = None
    failure_message: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


class PaymentRequest(_Frozen):
    """A request to collect money through a gateway.

    ``payment_method`` is a gateway token (``pm_...``, a PayPal vault id) or ``None`` for flows
    where the customer picks it at the provider (PayPal approval). ``off_session`` marks a
    merchant-initiated charge (renewals) where the customer is not present.
    """

    amount: MinorUnits
    currency: CurrencyCode
    idempotency_key: str = Field(min_length=1, max_length=255)
    customer_id: str | None = Field(default=None, description="The gateway customer id.")
    payment_method: str | None = None
    payment_method_type: str | None = Field(
        default=None,
        description="The saved method's type (card, paypal, venmo, sepa_debit ...), for "
        "providers that charge each kind differently (PayPal: card vs wallet vault ids).",
    )
    off_session: bool = False
    capture_method: CaptureMethod = CaptureMethod.AUTOMATIC
    confirm: bool = True
    description: str | None = None
    statement_descriptor: str | None = Field(default=None, max_length=22)
    receipt_email: str | None = None
    return_url: str | None = Field(default=None, description="Where 3DS / approval returns.")
    cancel_url: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)

    @field_validator("amount")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise InvalidAmountError("A payment amount must be positive.", amount=value)
        return value

    @field_validator("payment_method", "description", "statement_descriptor", "metadata")
    @classmethod
    def _card_free(cls, value: Any) -> Any:
        return _no_card_data(value, "payment_request")

    @property
    def money(self) -> Money:
        return from_minor_units(self.amount, self.currency)


class PaymentResult(_Frozen):
    """A payment as the provider reports it now.

    A decline is an outcome, not an exception: ``status`` is ``failed`` and ``decline_code``
    says why (``insufficient_funds``, ``stolen_card``...). ``requires_action`` comes with a
    ``next_action`` the caller shows the customer. ``balance_transaction`` carries the
    settlement currency, FX rate and fee once the provider has them.
    """

    id: str = Field(min_length=1)
    gateway: str = Field(min_length=1)
    status: PaymentStatus
    amount: MinorUnits
    amount_received: MinorUnits = 0
    amount_capturable: MinorUnits = 0
    amount_refunded: MinorUnits = 0
    currency: CurrencyCode
    customer_id: str | None = None
    payment_method: str | None = None
    capture_method: CaptureMethod = CaptureMethod.AUTOMATIC
    charge_id: str | None = Field(default=None, description="Stripe latest_charge / capture id.")
    next_action: NextAction | None = None
    decline_code: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    risk: RiskOutcome | None = None
    balance_transaction: BalanceTransaction | None = None
    created: datetime | None = None
    metadata: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _amounts_consistent(self) -> PaymentResult:
        if self.amount_received > self.amount:
            raise InvalidAmountError(
                "amount_received cannot exceed the amount.",
                amount=self.amount,
                amount_received=self.amount_received,
            )
        if self.amount_refunded > self.amount_received:
            raise InvalidAmountError(
                "amount_refunded cannot exceed amount_received.",
                amount_received=self.amount_received,
                amount_refunded=self.amount_refunded,
            )
        return self

    @property
    def succeeded(self) -> bool:
        return self.status is PaymentStatus.SUCCEEDED

    @property
    def refundable_amount(self) -> int:
        """Minor units that may still be refunded (never above what was paid)."""
        return self.amount_received - self.amount_refunded


# --- refunds -----------------------------------------------------------------------------


class RefundRequest(_Frozen):
    """Refund all (``amount=None``) or part of a payment."""

    payment_id: str = Field(min_length=1)
    idempotency_key: str = Field(min_length=1, max_length=255)
    amount: MinorUnits | None = None
    currency: CurrencyCode | None = Field(
        default=None, description="Needed by providers that refund captures (PayPal)."
    )
    reason: RefundReason | None = None
    metadata: dict[str, str] = Field(default_factory=dict)

    @field_validator("amount")
    @classmethod
    def _positive(cls, value: int | None) -> int | None:
        if value is not None and value <= 0:
            raise InvalidAmountError("A refund amount must be positive.", amount=value)
        return value

    @field_validator("metadata")
    @classmethod
    def _card_free(cls, value: Any) -> Any:
        return _no_card_data(value, "refund_request.metadata")


class RefundResult(_Frozen):
    id: str = Field(min_length=1)
    gateway: str = Field(min_length=1)
    payment_id: str
    amount: MinorUnits
    currency: CurrencyCode
    status: RefundStatus
    reason: str | None = None
    failure_reason: str | None = None
    balance_transaction: BalanceTransaction | None = None
    balance_transaction_id: str | None = None
    created: datetime | None = None
    metadata: dict[str, str] = Field(default_factory=dict)


# --- webhooks ----------------------------------------------------------------------------


class WebhookEvent(_Frozen):
    """A verified inbound webhook, normalized.

    ``id`` is the provider's event id (deduplicate on ``(gateway, id)``); ``provider_type`` is
    the provider's own type (``payment_intent.succeeded``, ``PAYMENT.CAPTURE.COMPLETED``).
    ``metadata`` is what the provider echoes back of the references sent with the payment
    (``lms_payment_id`` ...: Stripe's metadata, PayPal's ``custom_id``), so an event that
    arrives before the provider's id was recorded still finds its payment. ``raw`` keeps
    the verified payload for audit.
    """

    id: str = Field(min_length=1)
    gateway: str = Field(min_length=1)
    type: WebhookEventType
    provider_type: str
    created: datetime
    object_id: str | None = None
    payment_id: str | None = None
    refund_id: str | None = None
    customer_id: str | None = None
    payment_status: PaymentStatus | None = None
    amount: MinorUnits | None = None
    currency: CurrencyCode | None = None
    livemode: bool = False
    metadata: dict[str, str] = Field(default_factory=dict)
    raw: dict[str, Any] = Field(default_factory=dict)


__all__ = [
    "WEBHOOK_PAYMENT_STATUS",
    "BalanceTransaction",
    "CaptureMethod",
    "GatewayCustomer",
    "NextAction",
    "PaymentMethodDetails",
    "PaymentRequest",
    "PaymentResult",
    "PaymentStatus",
    "Payout",
    "RefundReason",
    "RefundRequest",
    "RefundResult",
    "RefundStatus",
    "RiskLevel",
    "RiskOutcome",
    "SetupResult",
    "WebhookEvent",
    "WebhookEventType",
]
