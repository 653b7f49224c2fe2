"""Rules over payments: status ordering, verification before marking paid, refund limits.

Pure functions on :mod:`lms_billing.domain.payments` models, used by the payment services
(and by anyone who prefers exceptions to outcomes).
"""

from __future__ import annotations

from datetime import datetime

from lms_billing.domain.payments import PaymentResult, PaymentStatus
from lms_billing.errors import (
    AuthenticationRequiredError,
    InvalidAmountError,
    PaymentDeclinedError,
    ValidationError,
)

# How far a payment has progressed. A later webhook may only move a payment *forward*: a late
# ``processing`` must never override ``succeeded`` (webhooks arrive out of order).
_STATUS_RANK: dict[PaymentStatus, int] = {
    PaymentStatus.REQUIRES_PAYMENT_METHOD: 0,
    PaymentStatus.REQUIRES_CONFIRMATION: 1,
    PaymentStatus.REQUIRES_ACTION: 2,
    PaymentStatus.PROCESSING: 3,
    PaymentStatus.REQUIRES_CAPTURE: 4,
    PaymentStatus.FAILED: 5,
    PaymentStatus.SUCCEEDED: 6,
    PaymentStatus.CANCELED: 6,
}

TERMINAL_STATUSES: frozenset[PaymentStatus] = frozenset(
    {PaymentStatus.SUCCEEDED, PaymentStatus.CANCELED}
)


def status_supersedes(
    current: PaymentStatus,
    incoming: PaymentStatus,
    *,
    current_at: datetime | None = None,
    incoming_at: datetime | None = None,
) -> bool:
    """True when a payment in ``current`` may move to ``incoming``.

    Terminal statuses (succeeded, canceled) never change, and otherwise only moves forward
    are accepted, so a late ``processing`` never overrides ``succeeded`` or ``failed``. One
    exception: after a decline (failed) the same payment may be retried with a new payment
    method; that restart is accepted only when the incoming report is strictly newer
    (``incoming_at > current_at``), because a stale report looks exactly the same.
    """
    if current in TERMINAL_STATUSES:
        return False
    if _STATUS_RANK[incoming] > _STATUS_RANK[current]:
        return True
    return (
        current is PaymentStatus.FAILED
        and incoming is not PaymentStatus.FAILED
        and current_at is not None
        and incoming_at is not None
        and incoming_at > current_at
    )


def raise_for_outcome(result: PaymentResult) -> PaymentResult:
    """Return ``result`` if it is not a failure; else raise the matching :class:`PaymentError`.

    For callers that prefer exceptions: a decline raises :class:`PaymentDeclinedError` with the
    decline code; a payment needing customer authentication raises
    :class:`AuthenticationRequiredError` (its ``details`` carry the next action).
    """
    if result.status is PaymentStatus.REQUIRES_ACTION or (
        result.status is PaymentStatus.FAILED
        and "authentication_required" in (result.decline_code, result.failure_code)
    ):
        raise AuthenticationRequiredError(
            result.failure_message,
            payment_id=result.id,
            gateway=result.gateway,
            next_action=result.next_action.model_dump() if result.next_action else None,
        )
    if result.status is PaymentStatus.FAILED:
        raise PaymentDeclinedError(
            result.failure_message,
            decline_code=result.decline_code or result.failure_code,
            payment_id=result.id,
            gateway=result.gateway,
        )
    return result


def verify_payment(
    result: PaymentResult, *, amount: int, currency: str, gateway: str | None = None
) -> None:
    """Check a provider-reported payment before marking an invoice paid.

    A webhook alone never marks an invoice paid: the service retrieves the payment from the
    gateway and calls this. Raises :class:`ValidationError` unless the payment succeeded for
    exactly ``amount`` in ``currency`` (and on ``gateway`` when given).
    """
    problems: list[str] = []
    if result.status is not PaymentStatus.SUCCEEDED:
        problems.append(f"status is {result.status.value}")
    if result.currency != currency.upper():
        problems.append(f"currency is {result.currency}, expected {currency.upper()}")
    if result.amount_received != amount:
        problems.append(f"amount received is {result.amount_received}, expected {amount}")
    if gateway is not None and result.gateway != gateway:
        problems.append(f"gateway is {result.gateway}, expected {gateway}")
    if problems:
        raise ValidationError(
            "The provider's payment does not match: " + "; ".join(problems) + ".",
            payment_id=result.id,
            problems=problems,
        )


def check_refund_amount(payment: PaymentResult, amount: int | None) -> int:
    """The amount to refund (``None`` means all that is left), never above what was paid.

    :raises InvalidAmountError: when the refund exceeds the refundable amount or nothing is
        left to refund.
    """
    remaining = payment.refundable_amount
    wanted = remaining if amount is None else amount
    if wanted <= 0 or wanted > remaining:
        raise InvalidAmountError(
            f"Cannot refund {wanted} {payment.currency}: {remaining} is refundable.",
            payment_id=payment.id,
            requested=wanted,
            refundable=remaining,
        )
    return wanted


__all__ = [
    "TERMINAL_STATUSES",
    "check_refund_amount",
    "raise_for_outcome",
    "status_supersedes",
    "verify_payment",
]
