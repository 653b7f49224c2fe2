"""Renewal planning: what one renewal of a subscription bills and how its state moves on.

Pure: given a subscription, the instant and the pending proration items and discounts the
caller loaded, :func:`plan_renewal` returns the invoice to create (lines, discounts, how to
collect it), the next period and the subscription as it is after the renewal. Nothing is
saved or charged here; the billing run (a service) persists the plan, finalizes the invoice
and attempts payment. A subscription several periods behind renews one period per plan; the
billing run repeats while :func:`is_due` holds. :func:`preview_upcoming_invoice` is the same
planning with nothing applied (Stripe's upcoming invoice).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from lms_billing.clock import ensure_aware
from lms_billing.domain.billing_cycle import (
    BillingPeriod,
    UtcDatetime,
    add_interval,
    parse_enum,
    period_containing,
    period_index,
)
from lms_billing.domain.coupons import CouponDuration, Discount
from lms_billing.domain.discounts import DiscountableLine, apply_discounts
from lms_billing.domain.events import Event
from lms_billing.domain.proration import ProrationBehavior, ProrationItem, prorate
from lms_billing.domain.subscription_changes import (
    update_items,
)
from lms_billing.domain.subscriptions import (
    RENEWING_STATUSES,
    SYSTEM_ACTOR,
    Subscription,
    SubscriptionItem,
    SubscriptionStatus,
    advance_period,
    collection_paused_at,
    end_trial,
    transition,
)
from lms_billing.errors import CurrencyMismatchError, InvalidSubscriptionOperationError
from lms_billing.money import (
    DEFAULT_ROUNDING,
    CurrencyCode,
    RoundingMode,
    SignedMinorUnits,
)

TRIAL_WILL_END_NOTICE = timedelta(days=3)  # Stripe sends trial_will_end 3 days ahead
INCOMPLETE_EXPIRY = timedelta(hours=23)  # Stripe expires an unpaid first invoice after 23 h


class InvoiceCollection(StrEnum):
    """How the service handles the planned invoice once created."""

    CHARGE_AUTOMATICALLY = "charge_automatically"
    KEEP_AS_DRAFT = "keep_as_draft"
    MARK_UNCOLLECTIBLE = "mark_uncollectible"
    VOID = "void"


class BillingReason(StrEnum):
    """Stripe's ``invoice.billing_reason`` for subscription invoices."""

    SUBSCRIPTION_CREATE = "subscription_create"
    SUBSCRIPTION_CYCLE = "subscription_cycle"
    SUBSCRIPTION_UPDATE = "subscription_update"


class RenewalAction(StrEnum):
    RENEW = "renew"
    TRIAL_CONVERTED = "trial_converted"
    TRIAL_CANCELED = "trial_canceled"
    TRIAL_PAUSED = "trial_paused"
    CANCELED_AT_PERIOD_END = "canceled_at_period_end"


class PlannedLine(BaseModel):
    """One invoice line to create; ``discount_amount`` is this line's share of discounts."""

    model_config = ConfigDict(frozen=True)

    line_id: str
    description: str
    amount: SignedMinorUnits
    currency: CurrencyCode
    period_start: UtcDatetime
    period_end: UtcDatetime
    proration: bool
    price_id: str
    product_id: str | None = None
    quantity: int
    unit_amount: int | None = None
    subscription_item_id: str | None = None
    discount_amount: SignedMinorUnits = 0  # negative on a discounted credit line


class InvoicePlan(BaseModel):
    """The invoice a renewal (or a subscription start or update) creates, before tax."""

    model_config = ConfigDict(frozen=True)

    subscription_id: str
    customer_id: str
    currency: CurrencyCode
    billing_reason: BillingReason
    period: BillingPeriod
    lines: tuple[PlannedLine, ...]
    subtotal: SignedMinorUnits
    discount_total: SignedMinorUnits  # negative when credits were discounted more
    total: SignedMinorUnits
    discount_ids: tuple[str, ...] = ()
    collection: InvoiceCollection = InvoiceCollection.CHARGE_AUTOMATICALLY


class RenewalPlan(BaseModel):
    """One renewal: what happened at ``at``, the invoice (if any) and the state after it."""

    model_config = ConfigDict(frozen=True)

    action: RenewalAction
    at: UtcDatetime
    invoice: InvoicePlan | None
    subscription: Subscription
    discounts: tuple[Discount, ...] = Field(
        description="The discounts after this invoice (``once`` ones closed)."
    )


def is_due(sub: Subscription, now: datetime) -> bool:
    """True when the current period (or trial) has ended and the subscription renews."""
    return sub.status in RENEWING_STATUSES and ensure_aware(now) >= sub.current_period_end


def remaining_discount_months(discount: Discount, at: datetime) -> int | None:
    """Whole months a ``repeating`` discount still covers after ``at`` (``None``: forever).

    ``once`` discounts count as 1 until their invoice closes them, then 0.
    """
    moment = ensure_aware(at, name="at")
    if discount.coupon.duration is CouponDuration.FOREVER and discount.end is None:
        return None
    if discount.end is None:
        return 1
    if moment >= discount.end:
        return 0
    # Monthly steps from ``at`` that still start before the end (a partial month counts).
    whole = period_index(moment, "month", 1, discount.end)
    return whole if add_interval(moment, "month", 1, whole) == discount.end else whole + 1


def _item_line(
    sub: Subscription,
    item: SubscriptionItem,
    period: BillingPeriod,
    full: BillingPeriod,
    rounding: RoundingMode,
) -> PlannedLine:
    # A calendar-billing first period shorter than a full cycle.
    stub = full.start != period.start or full.end != period.end
    amount = prorate(item.amount, full, period.start, rounding) if stub else item.amount
    verb = "Remaining time on " if stub else ""
    if sub.status is SubscriptionStatus.TRIALING:
        # The trial's own invoice is free (Stripe issues a zero-amount invoice at trial start).
        amount, verb, stub = 0, "Trial period for ", False
    return PlannedLine(
        line_id=item.id,
        description=f"{verb}{item.quantity} × {item.price_id}",  # noqa: RUF001 - Stripe wording
        amount=amount,
        currency=item.currency,
        period_start=period.start,
        period_end=period.end,
        proration=stub,
        price_id=item.price_id,
        product_id=item.product_id,
        quantity=item.quantity,
        unit_amount=item.unit_amount,
        subscription_item_id=item.id,
    )


def _pending_line(index: int, item: ProrationItem) -> PlannedLine:
    return PlannedLine(
        line_id=f"proration_{index}",
        description=item.description,
        amount=item.amount,
        currency=item.currency,
        period_start=item.period_start,
        period_end=item.period_end,
        proration=item.proration,
        price_id=item.price_id,
        quantity=item.quantity,
        subscription_item_id=item.subscription_item_id,
    )


def plan_period_invoice(
    sub: Subscription,
    *,
    pending_items: Sequence[ProrationItem] = (),
    discounts: Sequence[Discount] = (),
    billing_reason: BillingReason | str = BillingReason.SUBSCRIPTION_CREATE,
    collection: InvoiceCollection | str = InvoiceCollection.CHARGE_AUTOMATICALLY,
    include_items: bool = True,
    rounding: RoundingMode = DEFAULT_ROUNDING,
) -> InvoicePlan:
    """The invoice for ``sub``'s current period: one line per item (a calendar stub period
    is prorated), then the pending proration items, then the discounts active at the
    period start, applied by :func:`lms_billing.domain.discounts.apply_discounts`."""
    return _plan_period_invoice(
        sub,
        None,
        pending_items=pending_items,
        discounts=discounts,
        billing_reason=billing_reason,
        collection=collection,
        include_items=include_items,
        rounding=rounding,
    )


def _plan_period_invoice(
    sub: Subscription,
    full: BillingPeriod | None,
    *,
    pending_items: Sequence[ProrationItem],
    discounts: Sequence[Discount],
    billing_reason: BillingReason | str,
    collection: InvoiceCollection | str,
    include_items: bool,
    rounding: RoundingMode,
) -> InvoicePlan:
    # ``full``: the whole billing cycle containing the current period's start, when the
    # caller has just computed it (a renewal's next period); otherwise it is computed here.
    if (
        full is not None
        and full.start == sub.current_period_start
        and full.end == sub.current_period_end
    ):
        period = full  # a renewal: the current period is that whole cycle
    else:
        period = sub.current_period
    for pending in pending_items:
        if pending.currency != sub.currency:
            raise CurrencyMismatchError(
                "Pending items must be in the subscription's currency.",
                left=sub.currency,
                right=pending.currency,
            )
    lines: list[PlannedLine] = []
    if include_items:
        if full is None:
            full = period_containing(
                sub.billing_cycle_anchor, sub.interval, sub.interval_count, period.start
            )
        lines = [_item_line(sub, item, period, full, rounding) for item in sub.items]
    lines += [_pending_line(i, item) for i, item in enumerate(pending_items)]
    active = [d for d in discounts if d.active_at(period.start)]
    planned: tuple[PlannedLine, ...] = tuple(lines)
    discount_total = 0
    discount_ids: tuple[str, ...] = ()
    if active or len({line.line_id for line in lines}) != len(lines):
        # (Without coupons apply_discounts only refuses duplicate line ids.)
        result = apply_discounts(
            [
                DiscountableLine(
                    line_id=line.line_id,
                    amount=line.amount,
                    product_id=line.product_id,
                    price_id=line.price_id,
                )
                for line in lines
            ],
            [d.coupon for d in active],
            sub.currency,
            rounding=rounding,
        )
        per_line = result.per_line
        planned = tuple(
            line.model_copy(update={"discount_amount": per_line[line.line_id]})
            if per_line.get(line.line_id)
            else line
            for line in lines
        )
        discount_total = result.total
        discount_ids = tuple(d.id for d in active if result.per_coupon.get(d.coupon.id, 0) != 0)
    subtotal = sum(line.amount for line in planned)
    return InvoicePlan(
        subscription_id=sub.id,
        customer_id=sub.customer_id,
        currency=sub.currency,
        billing_reason=parse_enum(BillingReason, billing_reason, name="billing_reason"),
        period=period,
        lines=planned,
        subtotal=subtotal,
        discount_total=discount_total,
        total=subtotal - discount_total,
        discount_ids=discount_ids,
        collection=parse_enum(InvoiceCollection, collection, name="collection"),
    )


def _collection(sub: Subscription, at: datetime) -> InvoiceCollection:
    pause = collection_paused_at(sub, at)
    if pause is not None:
        return InvoiceCollection(pause.behavior.value)
    if sub.status is SubscriptionStatus.UNPAID:
        # Stripe keeps creating invoices for unpaid subscriptions but leaves them as drafts.
        return InvoiceCollection.KEEP_AS_DRAFT
    return InvoiceCollection.CHARGE_AUTOMATICALLY


def _close_once(discounts: Sequence[Discount], invoice: InvoicePlan | None) -> tuple[Discount, ...]:
    if invoice is None:
        return tuple(discounts)
    used = set(invoice.discount_ids)
    return tuple(
        d.model_copy(update={"end": invoice.period.end})
        if d.id in used and d.coupon.duration is CouponDuration.ONCE and d.end is None
        else d
        for d in discounts
    )


def plan_renewal(
    sub: Subscription,
    now: datetime,
    *,
    pending_items: Sequence[ProrationItem] = (),
    discounts: Sequence[Discount] = (),
    actor: str = SYSTEM_ACTOR,
    rounding: RoundingMode = DEFAULT_ROUNDING,
) -> RenewalPlan:
    """Plan the renewal of ``sub`` at the end of its current period (or trial).

    * ``cancel_at_period_end``: the subscription is canceled at the period (or trial) end;
      pending proration items, if any, go on a final invoice;
    * trial ends: convert (invoice the first paid period) or cancel / pause without a
      payment method, per ``trial_settings``;
    * otherwise the next period is invoiced: items, pending prorations, discounts; collection
      follows ``pause_collection`` (and ``unpaid`` keeps invoices as drafts).

    :raises InvalidSubscriptionOperationError: when the subscription is not due at ``now``.
    """
    if not is_due(sub, now):
        raise InvalidSubscriptionOperationError(
            "The subscription is not due for renewal.",
            subscription_id=sub.id,
            status=sub.status.value,
            current_period_end=sub.current_period_end.isoformat(),
        )
    boundary = sub.current_period_end
    invoice: InvoicePlan | None = None
    if sub.cancel_at_period_end:
        after = transition(
            sub, SubscriptionStatus.CANCELED, cause="cancel_at_period_end", actor=actor, at=boundary
        )
        action = RenewalAction.CANCELED_AT_PERIOD_END
        if pending_items:
            invoice = plan_period_invoice(
                sub,
                pending_items=pending_items,
                discounts=discounts,
                billing_reason=BillingReason.SUBSCRIPTION_UPDATE,
                include_items=False,
                rounding=rounding,
            )
    elif sub.status is SubscriptionStatus.TRIALING:
        after = end_trial(sub, at=boundary, actor=actor)
        action = {
            SubscriptionStatus.ACTIVE: RenewalAction.TRIAL_CONVERTED,
            SubscriptionStatus.CANCELED: RenewalAction.TRIAL_CANCELED,
        }.get(after.status, RenewalAction.TRIAL_PAUSED)
        if after.status is SubscriptionStatus.ACTIVE:
            invoice = plan_period_invoice(
                after,
                pending_items=pending_items,
                discounts=discounts,
                billing_reason=BillingReason.SUBSCRIPTION_CYCLE,
                collection=_collection(after, boundary),
                rounding=rounding,
            )
    else:
        # The cycle after the current one (next_period without building the current one).
        period = period_containing(
            sub.billing_cycle_anchor, sub.interval, sub.interval_count, sub.current_period_end
        )
        after = advance_period(sub, period)
        action = RenewalAction.RENEW
        # ``period`` is a whole cycle of the anchor: pass it on instead of recomputing it.
        invoice = _plan_period_invoice(
            after,
            period,
            pending_items=pending_items,
            discounts=discounts,
            billing_reason=BillingReason.SUBSCRIPTION_CYCLE,
            collection=_collection(after, boundary),
            include_items=True,
            rounding=rounding,
        )
    # Every part was validated just above (``after`` by transition/end_trial/advance_period,
    # ``invoice`` as an InvoicePlan, ``boundary`` as the subscription's UTC period end, the
    # discounts as a tuple of Discount): construct without validating them a second time.
    return RenewalPlan.model_construct(
        action=action,
        at=boundary,
        invoice=invoice,
        subscription=after,
        discounts=_close_once(discounts, invoice),
    )


def preview_upcoming_invoice(
    sub: Subscription,
    at: datetime,
    *,
    pending_items: Sequence[ProrationItem] = (),
    discounts: Sequence[Discount] = (),
    items: Sequence[SubscriptionItem] | None = None,
    proration_date: datetime | None = None,
    proration_behavior: ProrationBehavior | str = ProrationBehavior.CREATE_PRORATIONS,
    rounding: RoundingMode = DEFAULT_ROUNDING,
) -> InvoicePlan | None:
    """The next invoice ``sub`` will get, with nothing saved (Stripe's upcoming invoice),
    before tax and customer credit (the service preview adds both).

    Pass ``items`` (and ``proration_date``, ``proration_behavior``) to preview a plan change
    made at ``at``: with ``create_prorations`` its proration lines join the pending ones on
    the next renewal invoice; with ``always_invoice`` (or an interval change) the preview is
    the invoice that would be issued at once (the prorations plus the pending items, and the
    new period after an interval change); with ``none`` only the items change. ``None``
    when no invoice is coming (canceled, paused, or ending at period end with nothing
    pending).
    """
    moment = ensure_aware(at, name="at")
    pending = tuple(pending_items)
    if items is not None:
        update = update_items(
            sub,
            items,
            at=moment,
            proration_behavior=proration_behavior,
            proration_date=proration_date,
            rounding=rounding,
        )
        pending += update.proration_items
        sub = update.subscription
        if update.invoice_now:
            return plan_period_invoice(
                sub,
                pending_items=pending,
                discounts=discounts,
                billing_reason=BillingReason.SUBSCRIPTION_UPDATE,
                include_items=update.billing_cycle_reset,
                rounding=rounding,
            )
    if sub.status not in RENEWING_STATUSES:
        return None
    when = max(moment, sub.current_period_end)
    plan = plan_renewal(sub, when, pending_items=pending, discounts=discounts, rounding=rounding)
    return plan.invoice


# --- due events -------------------------------------------------------------------------------


class DueEventType(StrEnum):
    TRIAL_WILL_END = "customer.subscription.trial_will_end"
    RENEWAL_DUE = "customer.subscription.renewal_due"
    COLLECTION_RESUME_DUE = "customer.subscription.collection_resume_due"
    INCOMPLETE_EXPIRY_DUE = "customer.subscription.incomplete_expiry_due"


class DueEvent(BaseModel):
    """Something a scheduler must act on (or announce) for a subscription at ``due_at``."""

    model_config = ConfigDict(frozen=True)

    type: DueEventType
    subscription_id: str
    customer_id: str
    due_at: UtcDatetime

    @property
    def idempotency_key(self) -> str:
        """Stable per subscription, type and due instant: send or act once."""
        return f"{self.subscription_id}:{self.type.value}:{int(self.due_at.timestamp())}"

    def as_event(self, event_id: str) -> Event:
        """The outbox :class:`Event` announcing this, created at ``due_at``."""
        return Event(
            id=event_id,
            type=self.type.value,
            created_at=self.due_at,
            customer_id=self.customer_id,
            data={"subscription_id": self.subscription_id, "due_at": self.due_at.isoformat()},
        )


def due_events(sub: Subscription, now: datetime) -> tuple[DueEvent, ...]:
    """Everything due for ``sub`` at ``now``, oldest first. Pure: deduplicate with
    :attr:`DueEvent.idempotency_key` (``trial_will_end`` stays due for its last 3 days)."""
    moment = ensure_aware(now, name="now")
    found: list[DueEvent] = []

    def due(kind: DueEventType, at: datetime) -> None:
        found.append(
            DueEvent(type=kind, subscription_id=sub.id, customer_id=sub.customer_id, due_at=at)
        )

    if sub.status is SubscriptionStatus.TRIALING and sub.trial_end is not None:
        notice = sub.trial_end - TRIAL_WILL_END_NOTICE
        if sub.trial_start is not None:
            notice = max(notice, sub.trial_start)  # short trials announce at once
        if notice <= moment < sub.trial_end:
            due(DueEventType.TRIAL_WILL_END, notice)
    if is_due(sub, moment):
        due(DueEventType.RENEWAL_DUE, sub.current_period_end)
    pause = sub.pause_collection
    if pause is not None and pause.resumes_at is not None and pause.resumes_at <= moment:
        due(DueEventType.COLLECTION_RESUME_DUE, pause.resumes_at)
    if sub.status is SubscriptionStatus.INCOMPLETE and moment >= sub.created_at + INCOMPLETE_EXPIRY:
        due(DueEventType.INCOMPLETE_EXPIRY_DUE, sub.created_at + INCOMPLETE_EXPIRY)
    return tuple(sorted(found, key=lambda event: event.due_at))


__all__ = [
    "INCOMPLETE_EXPIRY",
    "TRIAL_WILL_END_NOTICE",
    "BillingReason",
    "DueEvent",
    "DueEventType",
    "InvoiceCollection",
    "InvoicePlan",
    "PlannedLine",
    "RenewalAction",
    "RenewalPlan",
    "due_events",
    "is_due",
    "plan_period_invoice",
    "plan_renewal",
    "preview_upcoming_invoice",
    "remaining_discount_months",
]
