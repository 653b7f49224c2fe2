"""Changing a subscription: cancel (now or at period end), resume, pause collection, and plan
changes (upgrade, downgrade, seats, add-ons, interval) with Stripe's proration behaviours.

Pure functions over :class:`~lms_billing.domain.subscriptions.Subscription`: each returns a new
subscription (plus any proration lines) and records status changes through
:func:`~lms_billing.domain.subscriptions.transition`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from lms_billing.clock import ensure_aware
from lms_billing.domain.billing_cycle import add_interval, parse_enum
from lms_billing.domain.proration import (
    ProrationBehavior,
    ProrationItem,
    credit_for_unused_time,
    proration_items,
)
from lms_billing.domain.subscriptions import (
    RENEWING_STATUSES,
    TERMINAL_STATUSES,
    PauseCollection,
    PauseCollectionBehavior,
    Subscription,
    SubscriptionItem,
    SubscriptionStatus,
    evolve,
    transition,
)
from lms_billing.errors import InvalidSubscriptionError, InvalidSubscriptionOperationError
from lms_billing.money import DEFAULT_ROUNDING, RoundingMode

# --- cancellation, resumption, pausing -------------------------------------------------------


class Cancellation(NamedTuple):
    """The canceled subscription and the proration credit for its unused time (if asked)."""

    subscription: Subscription
    credit_items: tuple[ProrationItem, ...]


def cancel(
    sub: Subscription,
    *,
    at: datetime,
    actor: str,
    cause: str = "requested",
    prorate: bool = False,
    rounding: RoundingMode = DEFAULT_ROUNDING,
) -> Cancellation:
    """Cancel immediately. With ``prorate=True`` a paid period gets a credit for unused time
    (one negative line per item), to be credited to the balance or refunded by the service.
    """
    moment = ensure_aware(at, name="at")
    credits: tuple[ProrationItem, ...] = ()
    paid = sub.status in {SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE}
    if prorate and paid and sub.current_period.contains(moment):
        credits = tuple(
            line
            for item in sub.items
            if (line := credit_for_unused_time(item, sub.current_period, moment, rounding)).amount
        )
    canceled = transition(sub, SubscriptionStatus.CANCELED, cause=cause, actor=actor, at=moment)
    return Cancellation(canceled, credits)


def cancel_at_period_end(sub: Subscription, *, at: datetime) -> Subscription:
    """Schedule cancellation for the end of the current period (``cancel_at_period_end``)."""
    if sub.status not in RENEWING_STATUSES:
        raise InvalidSubscriptionOperationError(
            f"A {sub.status} subscription cannot be scheduled to cancel at period end."
        )
    return evolve(sub, cancel_at_period_end=True, canceled_at=ensure_aware(at, name="at"))


def resume_before_period_end(sub: Subscription, *, at: datetime) -> Subscription:
    """Undo a scheduled cancellation before the period ends: the subscription renews again."""
    moment = ensure_aware(at, name="at")
    if not sub.cancel_at_period_end:
        raise InvalidSubscriptionOperationError("The subscription is not set to cancel.")
    if moment >= sub.current_period_end:
        raise InvalidSubscriptionOperationError(
            "The period has ended; the subscription is already due to cancel."
        )
    return evolve(sub, cancel_at_period_end=False, canceled_at=None)


def pause_collection(
    sub: Subscription,
    *,
    behavior: PauseCollectionBehavior | str,
    at: datetime,
    resumes_at: datetime | None = None,
) -> Subscription:
    """Pause payment collection; renewals still create invoices, handled per ``behavior``."""
    moment = ensure_aware(at, name="at")
    if sub.status not in RENEWING_STATUSES:
        raise InvalidSubscriptionOperationError(
            f"Collection of a {sub.status} subscription cannot be paused."
        )
    if resumes_at is not None and ensure_aware(resumes_at, name="resumes_at") <= moment:
        raise InvalidSubscriptionError("resumes_at must be in the future.")
    pause = PauseCollection(
        behavior=parse_enum(PauseCollectionBehavior, behavior, name="behavior"),
        resumes_at=resumes_at,
    )
    return evolve(sub, pause_collection=pause)


def resume_collection(sub: Subscription) -> Subscription:
    """Collect payments again (clears ``pause_collection``)."""
    if sub.pause_collection is None:
        raise InvalidSubscriptionOperationError("Collection is not paused.")
    return evolve(sub, pause_collection=None)


def resume(sub: Subscription, *, at: datetime, actor: str) -> Subscription:
    """Resume a ``paused`` subscription: ``active`` with a new cycle anchored at ``at``.

    The service then invoices the new period (``renewal.plan_period_invoice``).
    """
    moment = ensure_aware(at, name="at")
    if sub.status is not SubscriptionStatus.PAUSED:
        raise InvalidSubscriptionOperationError("Only paused subscriptions can be resumed.")
    resumed = evolve(
        sub,
        billing_cycle_anchor=moment,
        current_period_start=moment,
        current_period_end=add_interval(moment, sub.interval, sub.interval_count, 1),
    )
    return transition(resumed, SubscriptionStatus.ACTIVE, cause="resumed", actor=actor, at=moment)


# --- plan changes ----------------------------------------------------------------------------


class SubscriptionUpdate(NamedTuple):
    """The result of a plan change.

    ``proration_items`` are pending invoice lines; when ``invoice_now`` is true the service
    invoices them (with, after an interval change, the new period) right away.
    """

    subscription: Subscription
    proration_items: tuple[ProrationItem, ...]
    invoice_now: bool
    billing_cycle_reset: bool


def update_items(
    sub: Subscription,
    items: Sequence[SubscriptionItem],
    *,
    at: datetime,
    proration_behavior: ProrationBehavior | str = ProrationBehavior.CREATE_PRORATIONS,
    proration_date: datetime | None = None,
    rounding: RoundingMode = DEFAULT_ROUNDING,
) -> SubscriptionUpdate:
    """Replace the items (upgrade, downgrade, seats, add-ons), prorating as Stripe does.

    Items keep their ``id`` across a change; a new id is an added item, a missing one is
    removed. Same interval: credit for unused time and charge for remaining time from
    ``proration_date`` (default ``at``). Interval change (monthly -> yearly): the billing
    cycle resets to ``at`` and the new period is invoiced now, with a credit for the
    unused old period unless ``proration_behavior`` is ``none``. Trials are not prorated.
    """
    moment = ensure_aware(at, name="at")
    behavior = parse_enum(ProrationBehavior, proration_behavior, name="proration_behavior")
    if sub.status in TERMINAL_STATUSES or sub.status is SubscriptionStatus.INCOMPLETE:
        raise InvalidSubscriptionOperationError(f"A {sub.status} subscription cannot change.")
    when = moment if proration_date is None else ensure_aware(proration_date, name="proration_date")
    updated = evolve(sub, items=tuple(items))
    trialing = sub.status is SubscriptionStatus.TRIALING
    interval_changed = (updated.interval, updated.interval_count) != (
        sub.interval,
        sub.interval_count,
    )
    if trialing or sub.status is SubscriptionStatus.PAUSED:
        return SubscriptionUpdate(updated, (), False, False)
    if interval_changed:
        credits: tuple[ProrationItem, ...] = ()
        if behavior is not ProrationBehavior.NONE:
            credits = proration_items(sub.items, (), sub.current_period, when, rounding)
        reset = evolve(
            updated,
            billing_cycle_anchor=moment,
            current_period_start=moment,
            current_period_end=add_interval(moment, updated.interval, updated.interval_count, 1),
        )
        return SubscriptionUpdate(reset, credits, True, True)
    if behavior is ProrationBehavior.NONE:
        return SubscriptionUpdate(updated, (), False, False)
    lines = proration_items(sub.items, updated.items, sub.current_period, when, rounding)
    invoice_now = behavior is ProrationBehavior.ALWAYS_INVOICE and bool(lines)
    return SubscriptionUpdate(updated, lines, invoice_now, False)


__all__ = [
    "Cancellation",
    "SubscriptionUpdate",
    "cancel",
    "cancel_at_period_end",
    "pause_collection",
    "resume",
    "resume_before_period_end",
    "resume_collection",
    "update_items",
]
