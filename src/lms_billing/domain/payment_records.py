"""What the payment services store: payments, refunds, saved payment methods, gateway
customers, the webhook inbox and dunning state. Pure pydantic models, no I/O.

Amounts are integer minor units with an ISO 4217 code. A :class:`Payment` is *our* record of
one attempt to collect an invoice through a gateway; the provider's own id
(``gateway_payment_id``) is set once the gateway answered. Nothing here ever holds card data:
payment methods are gateway tokens plus display data, and free text is scanned for PANs.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lms_billing.domain.billing_cycle import UtcDatetime
from lms_billing.domain.card_data import reject_card_data
from lms_billing.domain.fraud import FraudOutcome, FraudReason
from lms_billing.domain.payments import (
    CaptureMethod,
    NextAction,
    PaymentStatus,
    RefundStatus,
    RiskOutcome,
    SetupResult,
)
from lms_billing.errors import ValidationError
from lms_billing.money import CurrencyCode, MinorUnits, SignedMinorUnits

_COLLECTING = frozenset(
    {
        PaymentStatus.REQUIRES_CONFIRMATION,
        PaymentStatus.PROCESSING,
        PaymentStatus.REQUIRES_CAPTURE,
    }
)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class StoredPaymentMethod(_Frozen):
    """A customer's saved payment method: the gateway token and display data only."""

    id: str = Field(min_length=1)
    customer_id: str = Field(min_length=1)
    gateway: str = Field(min_length=1)
    token: str = Field(min_length=1, description="The gateway's id (pm_..., a vault id).")
    type: str = "card"
    brand: str | None = None
    last4: str | None = Field(default=None, pattern=r"^\d{4}$")
    exp_month: int | None = Field(default=None, ge=1, le=12)
    exp_year: int | None = Field(default=None, ge=2000, le=2200)
    fingerprint: str | None = None
    country: str | None = None
    is_default: bool = False
    active: bool = True
    expiring_notice_for: str | None = Field(
        default=None, description="'YYYY-MM' of the expiry already announced (sent once)."
    )
    created_at: UtcDatetime
    detached_at: UtcDatetime | None = None
    metadata: dict[str, str] = Field(default_factory=dict)

    @field_validator("token", "brand", "fingerprint", "metadata")
    @classmethod
    def _card_free(cls, value: Any) -> Any:
        reject_card_data(value, field="payment_method")
        return value


class SetupOutcome(_Frozen):
    """Saving a payment method through the provider's setup flow (a Stripe SetupIntent).

    ``setup`` is the provider's current view (show ``setup.next_action`` when it is
    ``requires_action``, hand ``setup.client_secret`` to the front end while it is
    ``requires_payment_method``); ``payment_method`` is the stored method once the setup
    succeeded.
    """

    setup: SetupResult
    payment_method: StoredPaymentMethod | None = None

    @property
    def status(self) -> str:
        return self.setup.status


class GatewayCustomerLink(_Frozen):
    """Which provider customer (``cus_...``) stands for one of our customers at a gateway."""

    id: str = Field(min_length=1)
    customer_id: str = Field(min_length=1)
    gateway: str = Field(min_length=1)
    gateway_customer_id: str = Field(min_length=1)
    created_at: UtcDatetime


class FraudRecord(_Frozen):
    """The fraud verdict recorded on a payment, with every reason."""

    outcome: FraudOutcome = FraudOutcome.ALLOW
    reasons: tuple[FraudReason, ...] = ()


class Settlement(_Frozen):
    """How a payment landed in the merchant balance (from the provider's balance transaction).

    ``amount``/``fee``/``net`` are in the settlement ``currency``; ``exchange_rate`` converts
    the charge currency to it (None when no conversion happened).
    """

    balance_transaction_id: str
    amount: SignedMinorUnits
    fee: SignedMinorUnits = 0
    net: SignedMinorUnits
    currency: CurrencyCode
    exchange_rate: Decimal | None = None

    @field_validator("exchange_rate", mode="before")
    @classmethod
    def _no_float(cls, value: object) -> object:
        if isinstance(value, float):
            raise ValidationError("Exchange rates must be Decimal or str, never float.")
        return value


class Payment(_Frozen):
    """Our record of one attempt to collect an invoice through a gateway.

    ``status`` follows the provider (Stripe's PaymentIntent names plus ``failed``); before
    the gateway answered it is ``requires_confirmation`` with no ``gateway_payment_id``.
    ``blocked`` marks an attempt our fraud rules stopped before any gateway call.
    """

    id: str = Field(min_length=1)
    invoice_id: str = Field(min_length=1)
    customer_id: str = Field(min_length=1)
    gateway: str = Field(min_length=1)
    gateway_payment_id: str | None = None
    gateway_customer_id: str | None = None
    payment_method: str | None = Field(default=None, description="The gateway token used.")
    payment_method_type: str | None = Field(
        default=None, description="The saved method's type (card, paypal ...), if known."
    )
    idempotency_key: str = Field(min_length=1, max_length=255)
    request_hash: str = Field(min_length=1)
    status: PaymentStatus = PaymentStatus.REQUIRES_CONFIRMATION
    amount: MinorUnits
    currency: CurrencyCode
    amount_received: MinorUnits = 0
    amount_refunded: MinorUnits = Field(
        default=0, description="Refunded or reserved by refunds in flight."
    )
    capture_method: CaptureMethod = CaptureMethod.AUTOMATIC
    amount_to_capture: MinorUnits | None = Field(
        default=None, description="A partial capture's amount (verified instead of amount)."
    )
    collects_from: MinorUnits = Field(
        default=0,
        description="What the invoice had been paid when this attempt started: after a "
        "partial capture the rest is collected by a new attempt from a new starting point.",
    )
    off_session: bool = False
    return_url: str | None = None
    attempt: int = Field(default=1, ge=1)
    blocked: bool = False
    decline_code: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    next_action: NextAction | None = None
    risk: RiskOutcome | None = None
    fraud: FraudRecord = Field(default_factory=FraudRecord)
    settlement: Settlement | None = None
    verified: bool = Field(default=False, description="Checked against the gateway.")
    receipt_id: str | None = None
    ip_address: str | None = None
    card_fingerprint: str | None = None
    gateway_updated_at: UtcDatetime | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    metadata: dict[str, str] = Field(default_factory=dict)

    @field_validator("payment_method", "failure_message", "metadata")
    @classmethod
    def _card_free(cls, value: Any) -> Any:
        reject_card_data(value, field="payment")
        return value

    @property
    def refundable_amount(self) -> int:
        """What may still be refunded: received minus refunded (and reserved)."""
        return self.amount_received - self.amount_refunded

    @property
    def collecting(self) -> bool:
        """Whether this attempt may still take the invoice's money without the customer
        (unsent, processing or authorized): at most one per invoice at a time."""
        return not self.blocked and self.status in _COLLECTING

    @property
    def holds_invoice(self) -> bool:
        """Whether this attempt owns its invoice's collection slot (see
        :func:`collection_slot`): while it may still take the money, and for good once it
        has (one successful charge per invoice and starting point, ever)."""
        return self.collecting or (not self.blocked and self.status is PaymentStatus.SUCCEEDED)


class Refund(_Frozen):
    """A refund of (part of) a payment, linked to the credit note that documents it."""

    id: str = Field(min_length=1)
    payment_id: str = Field(min_length=1)
    invoice_id: str = Field(min_length=1)
    customer_id: str = Field(min_length=1)
    gateway: str = Field(min_length=1)
    gateway_refund_id: str | None = None
    credit_note_id: str | None = None
    idempotency_key: str = Field(min_length=1, max_length=255)
    request_hash: str = Field(min_length=1)
    amount: MinorUnits
    currency: CurrencyCode
    status: RefundStatus = RefundStatus.PENDING
    reason: str | None = None
    failure_reason: str | None = None
    settlement: Settlement | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime


class WebhookInboxEntry(_Frozen):
    """One received webhook: deduplicated on ``(gateway, event_id)``."""

    id: str = Field(min_length=1)
    gateway: str = Field(min_length=1)
    event_id: str = Field(min_length=1)
    type: str
    provider_type: str
    payload_hash: str = Field(min_length=64, max_length=64, description="SHA-256 hex.")
    received_at: UtcDatetime
    processed_at: UtcDatetime | None = None
    outcome: str | None = Field(default=None, description="What processing did (for audit).")


class DunningStatus(StrEnum):
    PENDING = "pending"  # nothing failed yet: the first attempt is in flight or unsent
    ACTIVE = "active"  # retries scheduled or waiting for a new payment method
    RECOVERED = "recovered"  # the invoice got paid while collection tracked it
    EXHAUSTED = "exhausted"  # the final action was applied


class DunningState(_Frozen):
    """Collection of one invoice: how many attempts failed and when to look again.

    ``id`` is the invoice id (one state per invoice). ``next_retry_at`` is ``None`` when no
    automatic attempt is scheduled (recovered, exhausted). ``pending_payment_id`` names an
    attempt collection waits on instead of failing it: unsent because the provider was
    down (it is resumed with the same idempotency key), or still in flight at the provider
    (``processing``, ``requires_capture``), resolved by its webhook or the next sync. A
    state that only waits (no failure yet) is ``pending`` with ``attempts == 0``.
    """

    id: str = Field(min_length=1, description="The invoice id.")
    customer_id: str = Field(min_length=1)
    subscription_id: str | None = None
    status: DunningStatus = DunningStatus.ACTIVE
    attempts: int = Field(default=0, ge=0)
    first_failed_at: UtcDatetime | None = None
    next_retry_at: UtcDatetime | None = None
    last_decline_code: str | None = None
    last_payment_id: str | None = None
    last_payment_method: str | None = Field(
        default=None, description="The token that failed (a hard decline is not retried on it)."
    )
    retryable: bool = True
    pending_payment_id: str | None = None
    updated_at: UtcDatetime

    @property
    def invoice_id(self) -> str:
        return self.id


def collection_slot(payment: Payment) -> str:
    """The invoice collection slot an attempt holds (unique in storage): the invoice id,
    qualified by what the invoice had been paid when the attempt started.

    Two attempts racing for the same unpaid amount want the same slot, so only one can
    charge; after a partial capture paid part of the invoice, the attempt collecting the
    rest starts from the new amount paid and gets a slot of its own.
    """
    if payment.collects_from == 0:
        return payment.invoice_id
    return f"{payment.invoice_id}:{payment.collects_from}"


def payment_due_key(payment: Payment) -> str:
    """The gateway idempotency key of a payment's create call: stable per payment id, so a
    retry after a crash or timeout never charges twice."""
    return f"{payment.id}:create"


__all__ = [
    "DunningState",
    "DunningStatus",
    "FraudRecord",
    "GatewayCustomerLink",
    "Payment",
    "Refund",
    "Settlement",
    "SetupOutcome",
    "StoredPaymentMethod",
    "WebhookInboxEntry",
    "collection_slot",
    "payment_due_key",
]
