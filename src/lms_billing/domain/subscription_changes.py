"""Changing a subscription: cancel (now or at period end), resume, pause collection, and plan
changes (upgrade, downgrade, seats, add-ons, interval) with Stripe's proration behaviours.

Pure functions over :class:`~lms_billing.domain.subscriptions.Subscription`: each returns a new
subscription (plus any proration lines) and records who did it, when and why in ``history``:
status changes through :func:`~lms_billing.domain.subscriptions.transition`, changes that keep
the status (a cancellation scheduled or undone, collection paused or resumed, new items)
through :func:`~lms_billing.domain.subscriptions.record_change`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from lms_billing.clock import ensure_aware
from lms_billing.domain.billing_cycle import add_interval, parse_enum
from lms_billing.domain.cancellation import (
    BilledLine,
    LineCredit,
    settle_pending,
    unused_time_credits,
)
from lms_billing.domain.proration import (
    ProrationBehavior,
    ProrationItem,
    proration_items,
)
from lms_billing.domain.subscriptions import (
    RENEWING_STATUSES,
    SYSTEM_ACTOR,
    TERMINAL_STATUSES,
    PauseCollection,
    PauseCollectionBehavior,
    Subscription,
    SubscriptionItem,
    SubscriptionStatus,
    evolve,
    record_change,
    transition,
)
from lms_billing.errors import InvalidSubscriptionError, InvalidSubscriptionOperationError
from lms_billing.money import DEFAULT_ROUNDING, RoundingMode

# --- cancellation, resumption, pausing -------------------------------------------------------


class Cancellation(NamedTuple):
    """The canceled subscription and what the cancellation settles.

    ``credits``: the unused time of what was billed for the current period, per invoice
    line (for credit notes; ``prorate=True`` only). ``final_items``: pending proration items
    for a final invoice (``invoice_now=True``; with ``prorate`` only their used part).
    ``discarded_items``: pending items that are dropped, never billed.
    """

    subscription: Subscription
    credits: tuple[LineCredit, ...]
    final_items: tuple[ProrationItem, ...]
    discarded_items: tuple[ProrationItem, ...]

    @property
    def credit_total(self) -> int:
        """The credit for unused time, net of discounts and before tax (minor units)."""
        return sum(credit.amount for credit in self.credits)


def cancel(
    sub: Subscription,
    *,
    at: datetime,
    actor: str,
    cause: str = "requested",
    prorate: bool = False,
    billed: Sequence[BilledLine] = (),
    pending_items: Sequence[ProrationItem] = (),
    invoice_now: bool = True,
    rounding: RoundingMode = DEFAULT_ROUNDING,
) -> Cancellation:
    """Cancel immediately, settling the current period (see
    :mod:`lms_billing.domain.cancellation`).

    :param prorate: credit the unused time (after ``at``) of what ``billed`` charged: the
        invoice lines of the current period, net of discounts. Nothing billed, nothing
        credited: a price only pending as a proration was never paid for.
    :param pending_items: the subscription's pending proration items.
    :param invoice_now: invoice ``pending_items`` on a final invoice (with ``prorate``, only
        for the time used until ``at``); ``False`` discards them.
    """
    moment = ensure_aware(at, name="at")
    canceled = transition(sub, SubscriptionStatus.CANCELED, cause=cause, actor=actor, at=moment)
    credits = unused_time_credits(billed, moment, rounding) if prorate else ()
    settled = settle_pending(
        pending_items, moment, invoice_now=invoice_now, prorate_unused=prorate, rounding=rounding
    )
    return Cancellation(canceled, credits, settled.invoice, settled.discarded)


def billed_in_full(
    sub: Subscription, *, invoice_id: str = "current_period"
) -> tuple[BilledLine, ...]:
    """Billed lines for a subscription whose current items were invoiced in full for the
    current period (one line per item, named by the item id): for pure-domain use and
    tests. Services pass the lines of the period's real invoices instead."""
    return tuple(
        BilledLine(
            invoice_id=invoice_id,
            line_id=item.id,
            amount=item.amount,
            period_start=sub.current_period_start,
            period_end=sub.current_period_end,
        )
        for item in sub.items
        if item.amount
    )


def cancel_at_period_end(
    sub: Subscription, *, at: datetime, actor: str = SYSTEM_ACTOR
) -> Subscription:
    """Schedule cancellation for the end of the current period (``cancel_at_period_end``);
    recorded in ``history`` as ``cancel_at_period_end_scheduled``."""
    if sub.status not in RENEWING_STATUSES:
        raise InvalidSubscriptionOperationError(
            f"A {sub.status} subscription cannot be scheduled to cancel at period end."
        )
    moment = ensure_aware(at, name="at")
    return record_change(
        sub,
        cause="cancel_at_period_end_scheduled",
        actor=actor,
        at=moment,
        cancel_at_period_end=True,
        canceled_at=moment,
    )


def resume_before_period_end(
    sub: Subscription, *, at: datetime, actor: str = SYSTEM_ACTOR
) -> Subscription:
    """Undo a scheduled cancellation before the period ends: the subscription renews again
    (``history``: ``cancel_at_period_end_undone``)."""
    moment = ensure_aware(at, name="at")
    if not sub.cancel_at_period_end:
        raise InvalidSubscriptionOperationError("The subscription is not set to cancel.")
    if moment >= sub.current_period_end:
        raise InvalidSubscriptionOperationError(
            "The period has ended; the subscription is already due to cancel."
        )
    return record_change(
        sub,
        cause="cancel_at_period_end_undone",
        actor=actor,
        at=moment,
        cancel_at_period_end=False,
        canceled_at=None,
    )


def pause_collection(
    sub: Subscription,
    *,
    behavior: PauseCollectionBehavior | str,
    at: datetime,
    resumes_at: datetime | None = None,
    actor: str = SYSTEM_ACTOR,
) -> Subscription:
    """Pause payment collection; renewals still create invoices, handled per ``behavior``
    (``history``: ``collection_paused``)."""
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
    return record_change(
        sub, cause="collection_paused", actor=actor, at=moment, pause_collection=pause
    )


def resume_collection(
    sub: Subscription, *, at: datetime, actor: str = SYSTEM_ACTOR
) -> Subscription:
    """Collect payments again (clears ``pause_collection``; ``history``:
    ``collection_resumed``). A pause with ``resumes_at`` ends on its own: the billing run
    records the same entry, by ``system``, at ``resumes_at``."""
    if sub.pause_collection is None:
        raise InvalidSubscriptionOperationError("Collection is not paused.")
    return record_change(sub, cause="collection_resumed", actor=actor, at=at, pause_collection=None)


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
    actor: str = SYSTEM_ACTOR,
) -> SubscriptionUpdate:
    """Replace the items (upgrade, downgrade, seats, add-ons), prorating as Stripe does.

    Items keep their ``id`` across a change; a new id is an added item, a missing one is
    removed. Same interval: credit for unused time and charge for remaining time from
    ``proration_date`` (default ``at``). Interval change (monthly -> yearly): the billing
    cycle resets to ``at`` and the new period is invoiced now, with a credit for the
    unused old period unless ``proration_behavior`` is ``none``. Trials are not prorated.
    ``history`` gets an ``items_updated`` entry by ``actor``.
    """
    moment = ensure_aware(at, name="at")
    behavior = parse_enum(ProrationBehavior, proration_behavior, name="proration_behavior")
    if sub.status in TERMINAL_STATUSES or sub.status is SubscriptionStatus.INCOMPLETE:
        raise InvalidSubscriptionOperationError(f"A {sub.status} subscription cannot change.")
    when = moment if proration_date is None else ensure_aware(proration_date, name="proration_date")
    updated = record_change(sub, cause="items_updated", actor=actor, at=moment, items=tuple(items))
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
    "billed_in_full",
    "cancel",
    "cancel_at_period_end",
    "pause_collection",
    "resume",
    "resume_before_period_end",
    "resume_collection",
    "update_items",
]
