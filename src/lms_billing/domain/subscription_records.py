"""What storage keeps about subscriptions besides the subscription itself.

* :class:`SubscriptionRecord`: a subscription with its coupon discounts and what the
  scheduler already announced; :func:`next_action_at` (pure) is the next instant anything is
  due for it (renewal, trial end, the ``trial_will_end`` notice, a collection pause ending,
  an incomplete first invoice expiring). Storage indexes that instant so a billing run finds
  due subscriptions without reading the others.
* :class:`PendingInvoiceItem`: a proration line waiting for the subscription's next invoice
  (a Stripe pending invoice item).
* :class:`BillingRun`: one billing run (or one worker's share of it) and its counts.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from lms_billing.domain.billing_cycle import UtcDatetime
from lms_billing.domain.coupons import Discount
from lms_billing.domain.proration import ProrationItem
from lms_billing.domain.renewal import INCOMPLETE_EXPIRY, TRIAL_WILL_END_NOTICE
from lms_billing.domain.subscriptions import (
    RENEWING_STATUSES,
    Subscription,
    SubscriptionStatus,
)


def trial_will_end_at(sub: Subscription) -> datetime | None:
    """When ``customer.subscription.trial_will_end`` is due: 3 days before the trial ends
    (at the trial start for shorter trials); ``None`` when not trialing."""
    if sub.status is not SubscriptionStatus.TRIALING or sub.trial_end is None:
        return None
    notice = sub.trial_end - TRIAL_WILL_END_NOTICE
    return notice if sub.trial_start is None else max(notice, sub.trial_start)


def next_action_at(sub: Subscription, *, trial_notice_sent: bool = False) -> datetime | None:
    """The next instant the billing run must look at ``sub``; ``None``: nothing scheduled.

    Renewing subscriptions are due at their period (or trial) end, trialing ones earlier for
    the ``trial_will_end`` notice until it was sent, paused collections at ``resumes_at``;
    ``incomplete`` ones expire 23 hours after creation. Paused and ended ones wait for a
    person (``resume``).
    """
    if sub.status is SubscriptionStatus.INCOMPLETE:
        return sub.created_at + INCOMPLETE_EXPIRY
    if sub.status not in RENEWING_STATUSES:
        return None
    moments = [sub.current_period_end]
    notice = trial_will_end_at(sub)
    if notice is not None and not trial_notice_sent:
        moments.append(notice)
    pause = sub.pause_collection
    if pause is not None and pause.resumes_at is not None:
        moments.append(pause.resumes_at)
    return min(moments)


class SubscriptionRecord(BaseModel):
    """A stored subscription: the domain model, its discounts and scheduler bookkeeping."""

    model_config = ConfigDict(frozen=True)

    subscription: Subscription
    discounts: tuple[Discount, ...] = ()
    trial_notice_sent: bool = Field(
        default=False, description="trial_will_end was announced for the current trial."
    )

    @property
    def id(self) -> str:
        return self.subscription.id

    @property
    def next_action_at(self) -> datetime | None:
        return next_action_at(self.subscription, trial_notice_sent=self.trial_notice_sent)


class PendingInvoiceItem(BaseModel):
    """A proration line waiting for ``subscription_id``'s next invoice."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    subscription_id: str = Field(min_length=1)
    customer_id: str = Field(min_length=1)
    item: ProrationItem
    created_at: UtcDatetime


class BillingRun(BaseModel):
    """One worker's billing run at ``at``: what it claimed, renewed and invoiced."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    at: UtcDatetime
    worker: str = Field(min_length=1)
    started_at: UtcDatetime
    finished_at: UtcDatetime | None = None
    batches: int = 0
    claimed: int = 0
    renewed: int = 0
    invoices_created: int = 0
    invoices_paid: int = 0
    trials_converted: int = 0
    canceled: int = 0
    paused: int = 0
    expired: int = 0
    notices_sent: int = 0
    stuck: int = Field(
        default=0, description="Due subscriptions a batch made no progress on (left alone)."
    )


__all__ = [
    "BillingRun",
    "PendingInvoiceItem",
    "SubscriptionRecord",
    "next_action_at",
    "trial_will_end_at",
]
