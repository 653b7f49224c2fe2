"""Dunning: what to do after a renewal payment fails. Pure: pass the history and ``now``.

A :class:`DunningPolicy` retries on a schedule counted in days **from the first failure**
(default 1, 3, 5, 7: Stripe's "retry up to 4 times within a week"). The subscription is
``past_due`` while dunning runs; when the schedule is exhausted the policy's final action
applies: mark it ``unpaid`` (access paused, invoice stays open) or ``canceled``.

Some declines must not be retried: the card is reported lost or stolen, the issuer says
"pick up card", the charge looks fraudulent, the card is expired or the number is wrong.
Retrying those only adds declines (card networks penalise retries of "never approve" codes,
e.g. Visa category 1). For them automatic retries stop and the customer must add a new
payment method; if none arrives by the end of the schedule, the final action applies.

``do_not_honor`` is a *soft* decline: the issuer gives no reason and often approves later
(Stripe lists it as "contact your issuer", Visa places code 05 among retryable categories), so
it is retried on the schedule like ``insufficient_funds``. Put it in
``non_retryable_decline_codes`` if your acquirer advises otherwise.
``authentication_required`` cannot succeed off session: the customer must come back and
authenticate, so it is treated like a non-retryable decline.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lms_billing.domain.subscriptions import SubscriptionStatus
from lms_billing.errors import InvalidIntervalError, ValidationError

NON_RETRYABLE_DECLINE_CODES: frozenset[str] = frozenset(
    {
        "authentication_required",
        "card_not_supported",
        "currency_not_supported",
        "do_not_try_again",
        "expired_card",
        "fraudulent",
        "incorrect_number",
        "invalid_account",
        "invalid_number",
        "lost_card",
        "merchant_blacklist",
        "new_account_information_available",
        "pickup_card",
        "restricted_card",
        "revocation_of_all_authorizations",
        "revocation_of_authorization",
        "security_violation",
        "stolen_card",
        "stop_payment_order",
        "transaction_not_allowed",
    }
)
"""Hard declines: retrying cannot succeed; the customer needs a new payment method."""


class DunningFinalAction(StrEnum):
    UNPAID = "unpaid"
    CANCELED = "canceled"

    @property
    def subscription_status(self) -> SubscriptionStatus:
        return SubscriptionStatus(self.value)


class DunningAction(StrEnum):
    RETRY = "retry"
    """Schedule another automatic attempt at ``retry_at``."""
    AWAIT_PAYMENT_METHOD = "await_payment_method"
    """No automatic retry; wait for the customer to update the payment method until
    ``retry_at`` (the end of the schedule), then apply the final action."""
    FINAL = "final"
    """Dunning is over: apply ``final_action`` to the subscription."""


class DunningPolicy(BaseModel):
    """How failed renewals are retried. Days are counted from the first failure."""

    model_config = ConfigDict(frozen=True)

    retry_days: tuple[int, ...] = (1, 3, 5, 7)
    final_action: DunningFinalAction = DunningFinalAction.UNPAID
    non_retryable_decline_codes: frozenset[str] = NON_RETRYABLE_DECLINE_CODES

    @field_validator("retry_days")
    @classmethod
    def _increasing(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(day <= 0 for day in value):
            raise InvalidIntervalError("Retry days must be positive.", retry_days=list(value))
        if list(value) != sorted(set(value)):
            raise InvalidIntervalError(
                "Retry days must be strictly increasing.", retry_days=list(value)
            )
        return value

    def is_retryable(self, decline_code: str | None) -> bool:
        """Whether a failure with this decline code may be retried automatically."""
        return decline_code not in self.non_retryable_decline_codes

    @property
    def ends_after(self) -> timedelta:
        """How long dunning lasts after the first failure."""
        return timedelta(days=self.retry_days[-1] if self.retry_days else 0)


class DunningStep(BaseModel):
    """The decision for one failed attempt.

    ``subscription_status`` is what the subscription should be now (``past_due`` while
    dunning runs, then the final action; apply it with ``subscriptions.transition``),
    ``event`` the dunning event to emit for notifications (``invoice.payment_failed``,
    ``invoice.payment_action_required``, ``subscription.dunning_unpaid`` or
    ``subscription.dunning_canceled``).
    """

    model_config = ConfigDict(frozen=True)

    action: DunningAction
    attempt: int = Field(ge=1, description="How many attempts have failed so far.")
    retry_at: datetime | None = None
    final_action: DunningFinalAction | None = None
    subscription_status: SubscriptionStatus
    event: str
    reason: str


def next_dunning_step(
    policy: DunningPolicy,
    *,
    failed_attempts: int,
    first_failed_at: datetime,
    decline_code: str | None,
    now: datetime,
) -> DunningStep:
    """Decide what follows a failed attempt.

    :param failed_attempts: failures so far, including the one just reported (1 after the
        first failed renewal).
    :param first_failed_at: when the first attempt failed; retry days count from here.
    :param decline_code: the latest failure's decline code (``None`` if the provider gave
        none, which is treated as retryable).
    :param now: the current time (from the service's clock).
    """
    if failed_attempts < 1:
        raise ValidationError(
            "failed_attempts must be at least 1.", failed_attempts=failed_attempts
        )
    if now < first_failed_at:
        raise ValidationError("now cannot be before the first failure.")
    deadline = first_failed_at + policy.ends_after
    final = DunningStep(
        action=DunningAction.FINAL,
        attempt=failed_attempts,
        final_action=policy.final_action,
        subscription_status=policy.final_action.subscription_status,
        event=f"subscription.dunning_{policy.final_action.value}",
        reason="retry schedule exhausted",
    )
    if not policy.is_retryable(decline_code):
        if now >= deadline:
            return final.model_copy(update={"reason": f"non-retryable decline {decline_code}"})
        return DunningStep(
            action=DunningAction.AWAIT_PAYMENT_METHOD,
            attempt=failed_attempts,
            retry_at=deadline,
            subscription_status=SubscriptionStatus.PAST_DUE,
            event="invoice.payment_action_required"
            if decline_code == "authentication_required"
            else "invoice.payment_failed",
            reason=f"non-retryable decline {decline_code}: the customer must update the "
            "payment method",
        )
    # The n-th failure schedules retry n (1-based) if the schedule has one left in the future.
    for day in policy.retry_days[failed_attempts - 1 :]:
        retry_at = first_failed_at + timedelta(days=day)
        if retry_at > now:
            return DunningStep(
                action=DunningAction.RETRY,
                attempt=failed_attempts,
                retry_at=retry_at,
                subscription_status=SubscriptionStatus.PAST_DUE,
                event="invoice.payment_failed",
                reason=f"retry {failed_attempts} of {len(policy.retry_days)}"
                + (f" after {decline_code}" if decline_code else ""),
            )
    return final


__all__ = [
    "NON_RETRYABLE_DECLINE_CODES",
    "DunningAction",
    "DunningFinalAction",
    "DunningPolicy",
    "DunningStep",
    "next_dunning_step",
]
