"""Subscriptions: the lifecycle state machine, trials, cancellation, pausing and plan changes.

Pure functions over frozen models, Stripe Billing semantics. Every function takes the
subscription and the instant ``at`` and returns a *new* subscription; nothing is mutated and
no clock is read. Every status change goes through :func:`transition`, which checks the
explicit :data:`TRANSITIONS` table and records a :class:`StatusTransition` (from, to, at,
cause, actor) in ``history``::

    incomplete ──> active | incomplete_expired | canceled
    trialing   ──> active | past_due | paused | canceled
    active     ──> past_due | canceled
    past_due   ──> active | unpaid | canceled
    unpaid     ──> active | canceled
    paused     ──> active | canceled
    canceled, incomplete_expired: terminal

Pausing *collection* (``pause_collection``) keeps the status, as at Stripe; the ``paused``
status comes from a trial that ends without a payment method (``end_behavior: pause``).

This module holds the models, the state machine, creation and trials. Cancellation, pausing,
resuming and plan changes live in :mod:`lms_billing.domain.subscription_changes`; renewal
planning and due events in :mod:`lms_billing.domain.renewal`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lms_billing.clock import ensure_aware
from lms_billing.domain.billing_cycle import (
    BillingCycleMode,
    BillingPeriod,
    Interval,
    UtcDatetime,
    add_interval,
    billing_cycle_anchor,
    first_period,
    parse_enum,
)
from lms_billing.domain.catalog import check_interval_count
from lms_billing.errors import (
    CurrencyMismatchError,
    InvalidIntervalError,
    InvalidQuantityError,
    InvalidStateTransitionError,
    InvalidSubscriptionError,
    InvalidSubscriptionOperationError,
)
from lms_billing.money import CurrencyCode, MinorUnits

MAX_TRIAL_DAYS = 730  # Stripe's limit for trial_period_days
SYSTEM_ACTOR = "system"


class SubscriptionStatus(StrEnum):
    INCOMPLETE = "incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    UNPAID = "unpaid"
    PAUSED = "paused"
    CANCELED = "canceled"


_S = SubscriptionStatus

TRANSITIONS: dict[SubscriptionStatus, frozenset[SubscriptionStatus]] = {
    _S.INCOMPLETE: frozenset({_S.ACTIVE, _S.INCOMPLETE_EXPIRED, _S.CANCELED}),
    _S.TRIALING: frozenset({_S.ACTIVE, _S.PAST_DUE, _S.PAUSED, _S.CANCELED}),
    _S.ACTIVE: frozenset({_S.PAST_DUE, _S.CANCELED}),
    _S.PAST_DUE: frozenset({_S.ACTIVE, _S.UNPAID, _S.CANCELED}),
    _S.UNPAID: frozenset({_S.ACTIVE, _S.CANCELED}),
    _S.PAUSED: frozenset({_S.ACTIVE, _S.CANCELED}),
    _S.CANCELED: frozenset(),
    _S.INCOMPLETE_EXPIRED: frozenset(),
}
"""Allowed status changes: ``TRANSITIONS[from]`` is the set of reachable statuses."""

TERMINAL_STATUSES = frozenset({_S.CANCELED, _S.INCOMPLETE_EXPIRED})
# Statuses whose periods renew (an invoice per period); paused and incomplete ones do not.
RENEWING_STATUSES = frozenset({_S.TRIALING, _S.ACTIVE, _S.PAST_DUE, _S.UNPAID})


class MissingPaymentMethodBehavior(StrEnum):
    """Stripe's ``trial_settings.end_behavior.missing_payment_method``."""

    CANCEL = "cancel"
    PAUSE = "pause"
    CREATE_INVOICE = "create_invoice"


class TrialEndBehavior(BaseModel):
    model_config = ConfigDict(frozen=True)

    missing_payment_method: MissingPaymentMethodBehavior = (
        MissingPaymentMethodBehavior.CREATE_INVOICE
    )


class TrialSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    end_behavior: TrialEndBehavior = Field(default_factory=TrialEndBehavior)


class PauseCollectionBehavior(StrEnum):
    """What happens to invoices created while collection is paused (Stripe names)."""

    KEEP_AS_DRAFT = "keep_as_draft"
    MARK_UNCOLLECTIBLE = "mark_uncollectible"
    VOID = "void"


class PauseCollection(BaseModel):
    model_config = ConfigDict(frozen=True)

    behavior: PauseCollectionBehavior
    resumes_at: UtcDatetime | None = None


class StatusTransition(BaseModel):
    """One entry of a subscription's history: a status change, or (``from_status ==
    to_status``) a change that keeps the status, such as scheduling a cancellation at
    period end, undoing it, pausing or resuming collection, or a plan change; ``cause``
    names it. ``from_status`` is ``None`` for the creation entry."""

    model_config = ConfigDict(frozen=True)

    from_status: SubscriptionStatus | None
    to_status: SubscriptionStatus
    at: UtcDatetime
    cause: str = Field(min_length=1)
    actor: str = Field(min_length=1)


class SubscriptionItem(BaseModel):
    """One price with a quantity (seats) inside a subscription; amounts in minor units."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    price_id: str = Field(min_length=1)
    product_id: str | None = None
    quantity: int = 1
    unit_amount: MinorUnits
    currency: CurrencyCode
    interval: Interval
    interval_count: int = 1
    metadata: dict[str, str] = Field(default_factory=dict)

    @field_validator("quantity", mode="before")
    @classmethod
    def _quantity(cls, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidQuantityError(
                f"quantity must be a non-negative integer, got {value!r}.", quantity=repr(value)
            )
        return value

    @field_validator("interval_count", mode="before")
    @classmethod
    def _interval_count(cls, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidIntervalError(
                f"interval_count must be a positive integer, got {value!r}.",
                interval_count=repr(value),
            )
        return value

    @model_validator(mode="after")
    def _at_most_three_years(self) -> Self:
        check_interval_count(self.interval, self.interval_count)
        return self

    @property
    def amount(self) -> int:
        """The full-period amount: ``unit_amount * quantity`` minor units."""
        return self.unit_amount * self.quantity


class Subscription(BaseModel):
    """A customer's recurring agreement. Build one with :func:`create_subscription`."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    customer_id: str = Field(min_length=1)
    currency: CurrencyCode
    items: tuple[SubscriptionItem, ...]
    status: SubscriptionStatus
    created_at: UtcDatetime
    start_date: UtcDatetime
    billing_cycle_anchor: UtcDatetime
    billing_mode: BillingCycleMode = BillingCycleMode.ANNIVERSARY
    current_period_start: UtcDatetime
    current_period_end: UtcDatetime
    trial_start: UtcDatetime | None = None
    trial_end: UtcDatetime | None = None
    trial_settings: TrialSettings = Field(default_factory=TrialSettings)
    default_payment_method: str | None = None
    cancel_at_period_end: bool = False
    canceled_at: UtcDatetime | None = None
    ended_at: UtcDatetime | None = None
    pause_collection: PauseCollection | None = None
    history: tuple[StatusTransition, ...] = ()
    metadata: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.items:
            raise InvalidSubscriptionError("A subscription needs at least one item.")
        ids = [item.id for item in self.items]
        prices = [item.price_id for item in self.items]
        if len(set(ids)) != len(ids) or len(set(prices)) != len(prices):
            raise InvalidSubscriptionError(
                "Subscription items need unique ids and unique prices.", item_ids=ids
            )
        for item in self.items:
            if item.currency != self.currency:
                raise CurrencyMismatchError(
                    f"Item {item.id} is in {item.currency}, the subscription in {self.currency}.",
                    left=self.currency,
                    right=item.currency,
                )
        if len({(item.interval, item.interval_count) for item in self.items}) != 1:
            raise InvalidIntervalError(
                "All items of a subscription must share one interval and interval_count."
            )
        if self.current_period_end <= self.current_period_start:
            raise InvalidSubscriptionError("The current period must end after it starts.")
        return self

    @property
    def interval(self) -> Interval:
        return self.items[0].interval

    @property
    def interval_count(self) -> int:
        return self.items[0].interval_count

    @property
    def current_period(self) -> BillingPeriod:
        return BillingPeriod(start=self.current_period_start, end=self.current_period_end)

    @property
    def has_payment_method(self) -> bool:
        return self.default_payment_method is not None


def evolve(sub: Subscription, **changes: Any) -> Subscription:
    """A validated copy of ``sub`` with ``changes`` (``model_copy(update=)`` skips validation;
    this rebuilds the model so every invariant is checked again)."""
    data = {name: getattr(sub, name) for name in type(sub).model_fields}
    data.update(changes)
    return Subscription.model_validate(data)


def can_transition(from_status: SubscriptionStatus, to_status: SubscriptionStatus) -> bool:
    return to_status in TRANSITIONS[from_status]


def transition(
    sub: Subscription, to: SubscriptionStatus | str, *, cause: str, actor: str, at: datetime
) -> Subscription:
    """Move ``sub`` to status ``to``, recording who did it, why and when.

    :raises InvalidStateTransitionError: when :data:`TRANSITIONS` does not allow the move.
    """
    target = parse_enum(SubscriptionStatus, to, name="status")
    moment = ensure_aware(at, name="at")
    if not can_transition(sub.status, target):
        raise InvalidStateTransitionError(
            f"A subscription cannot go from {sub.status} to {target}.",
            subscription_id=sub.id,
            from_status=sub.status.value,
            to_status=target.value,
        )
    record = StatusTransition(
        from_status=sub.status, to_status=target, at=moment, cause=cause, actor=actor
    )
    changes: dict[str, Any] = {"status": target, "history": (*sub.history, record)}
    if target in TERMINAL_STATUSES:
        changes["ended_at"] = moment
        changes["cancel_at_period_end"] = False
        changes["pause_collection"] = None
        if target is SubscriptionStatus.CANCELED:
            changes["canceled_at"] = sub.canceled_at or moment
    return evolve(sub, **changes)


def record_change(
    sub: Subscription, *, cause: str, actor: str, at: datetime, **changes: Any
) -> Subscription:
    """Apply ``changes`` (fields) and append a history entry that keeps the status: who
    did what, when (``cancel_at_period_end_scheduled``, ``collection_paused`` ...)."""
    moment = ensure_aware(at, name="at")
    record = StatusTransition(
        from_status=sub.status, to_status=sub.status, at=moment, cause=cause, actor=actor
    )
    return evolve(sub, **changes, history=(*sub.history, record))


def status_changes(sub: Subscription) -> tuple[StatusTransition, ...]:
    """The history entries that changed the status (creation included)."""
    return tuple(entry for entry in sub.history if entry.from_status is not entry.to_status)


# --- creation and trials -------------------------------------------------------------------


def _trial_end(
    at: datetime, trial_period_days: int | None, trial_end: datetime | None
) -> datetime | None:
    if trial_period_days is not None and trial_end is not None:
        raise InvalidSubscriptionError("Pass trial_period_days or trial_end, not both.")
    if trial_period_days is not None:
        if isinstance(trial_period_days, bool) or not 1 <= trial_period_days <= MAX_TRIAL_DAYS:
            raise InvalidSubscriptionError(
                f"trial_period_days must be between 1 and {MAX_TRIAL_DAYS}.",
                trial_period_days=trial_period_days,
            )
        return at + timedelta(days=trial_period_days)
    if trial_end is not None:
        end = ensure_aware(trial_end, name="trial_end")
        if end <= at:
            raise InvalidSubscriptionError(
                "trial_end must be in the future.", trial_end=end.isoformat()
            )
        return end
    return None


def create_subscription(
    *,
    id: str,
    customer_id: str,
    items: Sequence[SubscriptionItem],
    at: datetime,
    trial_period_days: int | None = None,
    trial_end: datetime | None = None,
    trial_settings: TrialSettings | None = None,
    default_payment_method: str | None = None,
    billing_mode: BillingCycleMode = BillingCycleMode.ANNIVERSARY,
    billing_cycle_anchor_at: datetime | None = None,
    actor: str = SYSTEM_ACTOR,
    metadata: dict[str, str] | None = None,
) -> Subscription:
    """A new subscription starting at ``at``.

    With a trial it starts ``trialing`` until ``trial_end`` (or ``at + trial_period_days``)
    and the billing cycle is anchored at the trial end. Without one it starts
    ``incomplete``: the service invoices the first period (``renewal.plan_period_invoice``)
    and calls :func:`activate` once that invoice is paid, or :func:`expire_incomplete`.
    ``billing_mode=calendar`` anchors renewals to the 1st of the month (a prorated stub
    first period); ``billing_cycle_anchor_at`` sets the anchor explicitly.
    """
    start = ensure_aware(at, name="at")
    if not items:
        raise InvalidSubscriptionError("A subscription needs at least one item.")
    interval, count = items[0].interval, items[0].interval_count
    ends_trial = _trial_end(start, trial_period_days, trial_end)
    cycle_start = ends_trial or start
    if billing_cycle_anchor_at is not None:
        anchor = ensure_aware(billing_cycle_anchor_at, name="billing_cycle_anchor_at")
        if not cycle_start <= anchor < add_interval(cycle_start, interval, count, 1):
            raise InvalidSubscriptionError(
                "billing_cycle_anchor must fall within the first full billing cycle.",
                billing_cycle_anchor=anchor.isoformat(),
            )
    else:
        anchor = billing_cycle_anchor(cycle_start, interval, billing_mode)
    if ends_trial is not None:
        status, period = SubscriptionStatus.TRIALING, BillingPeriod(start=start, end=ends_trial)
    else:
        status, period = SubscriptionStatus.INCOMPLETE, first_period(start, anchor, interval, count)
    created = StatusTransition(
        from_status=None, to_status=status, at=start, cause="created", actor=actor
    )
    return Subscription(
        id=id,
        customer_id=customer_id,
        currency=items[0].currency,
        items=tuple(items),
        status=status,
        created_at=start,
        start_date=start,
        billing_cycle_anchor=anchor,
        billing_mode=billing_mode,
        current_period_start=period.start,
        current_period_end=period.end,
        trial_start=start if ends_trial else None,
        trial_end=ends_trial,
        trial_settings=trial_settings or TrialSettings(),
        default_payment_method=default_payment_method,
        history=(created,),
        metadata=metadata or {},
    )


def activate(sub: Subscription, *, at: datetime, actor: str = SYSTEM_ACTOR) -> Subscription:
    """The first invoice of an ``incomplete`` subscription was paid: it becomes ``active``."""
    return transition(
        sub, SubscriptionStatus.ACTIVE, cause="first_invoice_paid", actor=actor, at=at
    )


def expire_incomplete(
    sub: Subscription, *, at: datetime, actor: str = SYSTEM_ACTOR
) -> Subscription:
    """The first invoice stayed unpaid (Stripe: 23 hours): ``incomplete_expired``."""
    return transition(
        sub, SubscriptionStatus.INCOMPLETE_EXPIRED, cause="first_invoice_unpaid", actor=actor, at=at
    )


def set_payment_method(sub: Subscription, payment_method_id: str | None) -> Subscription:
    """Attach (or detach, with ``None``) the default payment method token."""
    return evolve(sub, default_payment_method=payment_method_id)


def end_trial(sub: Subscription, *, at: datetime, actor: str = SYSTEM_ACTOR) -> Subscription:
    """End the trial at ``at`` (its scheduled end, or earlier to end it now).

    With a payment method, or with ``missing_payment_method=create_invoice``, the subscription
    converts to ``active`` and its first paid period starts (the service invoices it and a
    failed payment later moves it to ``past_due``). Without a payment method it is
    ``canceled`` or ``paused`` as ``trial_settings.end_behavior`` says.
    """
    if sub.status is not SubscriptionStatus.TRIALING or sub.trial_end is None:
        raise InvalidSubscriptionOperationError("Only trialing subscriptions end a trial.")
    moment = min(ensure_aware(at, name="at"), sub.trial_end)
    behavior = sub.trial_settings.end_behavior.missing_payment_method
    if not sub.has_payment_method and behavior is MissingPaymentMethodBehavior.CANCEL:
        ended = evolve(sub, trial_end=moment)
        return transition(
            ended,
            SubscriptionStatus.CANCELED,
            cause="trial_ended_without_payment_method",
            actor=actor,
            at=moment,
        )
    if not sub.has_payment_method and behavior is MissingPaymentMethodBehavior.PAUSE:
        ended = evolve(sub, trial_end=moment)
        return transition(
            ended,
            SubscriptionStatus.PAUSED,
            cause="trial_ended_without_payment_method",
            actor=actor,
            at=moment,
        )
    anchor = sub.billing_cycle_anchor
    if moment < sub.trial_end:
        # Ending early re-anchors the cycle at the new trial end, as Stripe does.
        anchor = billing_cycle_anchor(moment, sub.interval, sub.billing_mode)
    period = first_period(moment, anchor, sub.interval, sub.interval_count)
    converted = evolve(
        sub,
        trial_end=moment,
        billing_cycle_anchor=anchor,
        current_period_start=period.start,
        current_period_end=period.end,
    )
    return transition(
        converted, SubscriptionStatus.ACTIVE, cause="trial_ended", actor=actor, at=moment
    )


def advance_period(sub: Subscription, period: BillingPeriod) -> Subscription:
    """Move to the next billing period (a renewal); a collection pause whose ``resumes_at``
    has come is cleared (``history``: ``collection_resumed`` by ``system`` at that time)."""
    pause = collection_paused_at(sub, period.start)
    ended = sub.pause_collection
    if pause is None and ended is not None:
        return record_change(
            sub,
            cause="collection_resumed",
            actor=SYSTEM_ACTOR,
            at=ended.resumes_at or period.start,
            current_period_start=period.start,
            current_period_end=period.end,
            pause_collection=None,
        )
    # Only the period changes (``pause`` is the current pause: ``None`` stays ``None``), and a
    # BillingPeriod ends after it starts: no invariant to check again (evolve's full
    # validation is the largest cost of a renewal).
    return sub.model_copy(
        update={"current_period_start": period.start, "current_period_end": period.end}
    )


def collection_paused_at(sub: Subscription, at: datetime) -> PauseCollection | None:
    """The pause in effect at ``at``: ``None`` once ``resumes_at`` has passed."""
    pause = sub.pause_collection
    if pause is None or (pause.resumes_at is not None and pause.resumes_at <= at):
        return None
    return pause


__all__ = [
    "MAX_TRIAL_DAYS",
    "RENEWING_STATUSES",
    "SYSTEM_ACTOR",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "MissingPaymentMethodBehavior",
    "PauseCollection",
    "PauseCollectionBehavior",
    "StatusTransition",
    "Subscription",
    "SubscriptionItem",
    "SubscriptionStatus",
    "TrialEndBehavior",
    "TrialSettings",
    "activate",
    "advance_period",
    "can_transition",
    "collection_paused_at",
    "create_subscription",
    "end_trial",
    "evolve",
    "expire_incomplete",
    "record_change",
    "set_payment_method",
    "status_changes",
    "transition",
]
