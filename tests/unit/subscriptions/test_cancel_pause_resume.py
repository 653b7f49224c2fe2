"""Cancellation (now or at period end), resuming before the period ends, pausing collection."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sub_factories import make_item, make_sub, utc

from lms_billing.domain.cancellation import BilledLine, unused_share, unused_time_credits
from lms_billing.domain.proration import ProrationItem, proration_items
from lms_billing.domain.renewal import (
    DueEventType,
    InvoiceCollection,
    RenewalAction,
    due_events,
    is_due,
    plan_renewal,
)
from lms_billing.domain.subscription_changes import (
    billed_in_full,
    cancel,
    cancel_at_period_end,
    pause_collection,
    resume_before_period_end,
    resume_collection,
)
from lms_billing.domain.subscriptions import (
    MissingPaymentMethodBehavior,
    PauseCollectionBehavior,
    Subscription,
    SubscriptionStatus,
    TrialEndBehavior,
    TrialSettings,
    activate,
    collection_paused_at,
    end_trial,
    status_changes,
    transition,
)
from lms_billing.errors import (
    InvalidStateTransitionError,
    InvalidSubscriptionError,
    InvalidSubscriptionOperationError,
)

APRIL_END = utc(2024, 5, 1)
HALFWAY = utc(2024, 4, 16)


def active_sub(**overrides: object) -> Subscription:
    return activate(make_sub(**overrides), at=utc(2024, 4, 1))


def test_cancel_now_with_proration_credit() -> None:
    sub = active_sub(
        items=[
            make_item(unit_amount=3000),
            make_item(id="si_ai", price_id="price_ai", unit_amount=999),
        ]
    )
    result = cancel(
        sub,
        at=HALFWAY,
        actor="cus_1",
        cause="requested_by_customer",
        prorate=True,
        billed=billed_in_full(sub, invoice_id="in_april"),
    )
    assert result.subscription.status is SubscriptionStatus.CANCELED
    assert result.subscription.ended_at == HALFWAY
    # 1500 + 499.5 unused: one total (rounded per line, half up), split by line.
    assert [(c.invoice_id, c.line_id, c.amount) for c in result.credits] == [
        ("in_april", "si_base", 1500),
        ("in_april", "si_ai", 500),
    ]
    assert result.credit_total == 2000
    transition_record = result.subscription.history[-1]
    assert (transition_record.cause, transition_record.actor) == ("requested_by_customer", "cus_1")


def test_cancel_now_without_proration_or_during_trial_has_no_credit() -> None:
    sub = active_sub()
    assert cancel(sub, at=HALFWAY, actor="cus_1", billed=billed_in_full(sub)).credits == ()
    trialing = make_sub(trial_period_days=14)
    assert cancel(trialing, at=utc(2024, 4, 3), actor="cus_1", prorate=True).credits == ()


def _line(invoice: str, line: str, amount: int, start: datetime) -> BilledLine:
    return BilledLine(
        invoice_id=invoice, line_id=line, amount=amount, period_start=start, period_end=APRIL_END
    )


def test_the_credit_is_for_what_was_billed_not_for_a_pending_upgrade() -> None:
    # Basic (1000) billed for April; upgraded to Pro (2000) on Apr 16 with the prorations
    # left pending (-500, +1000). Canceled the same instant: only Basic was ever paid for.
    basic = active_sub()
    upgraded = basic.model_copy(
        update={"items": (make_item(price_id="price_pro", unit_amount=2000),)}
    )
    pending = proration_items(basic.items, upgraded.items, basic.current_period, HALFWAY)
    billed = [_line("in_april", "il_basic", 1000, utc(2024, 4, 1))]
    dropped = cancel(
        upgraded,
        at=HALFWAY,
        actor="cus_1",
        prorate=True,
        billed=billed,
        pending_items=pending,
        invoice_now=False,
    )
    assert dropped.credit_total == 500  # half of Basic, not half of Pro (1000)
    assert (dropped.final_items, dropped.discarded_items) == ((), pending)
    kept = cancel(
        upgraded, at=HALFWAY, actor="cus_1", prorate=True, billed=billed, pending_items=pending
    )
    # Invoiced now, each pending line only for the time used before the cancellation:
    # none (it is the same instant), so nothing is billed for Pro and nothing is left.
    assert kept.final_items == () and kept.discarded_items == pending
    assert kept.credit_total == 500


def test_pending_prorations_are_billed_up_to_the_cancellation() -> None:
    # Upgrade on Apr 16 (pending -500 / +1000), cancel on Apr 24 (7 of 30 days left).
    basic = active_sub()
    pro = (make_item(price_id="price_pro", unit_amount=2000),)
    pending = proration_items(basic.items, pro, basic.current_period, HALFWAY)
    upgraded = basic.model_copy(update={"items": pro})
    at = utc(2024, 4, 24)
    billed = [_line("in_april", "il_basic", 1000, utc(2024, 4, 1))]
    result = cancel(
        upgraded, at=at, actor="cus_1", prorate=True, billed=billed, pending_items=pending
    )
    assert [(i.amount, i.period_start, i.period_end) for i in result.final_items] == [
        (-267, HALFWAY, at),  # Basic Apr 16-24 credited: -500 * 8/15
        (533, HALFWAY, at),  # Pro Apr 16-24 charged: 1000 * 8/15
    ]
    assert all(i.description.endswith("until 24 Apr 2024") for i in result.final_items)
    assert result.credit_total == 233  # Basic Apr 24 - May 1 (1000 * 7/30)
    # Net: Pro for the 8 days used minus Basic for the 15 days not used.
    assert sum(i.amount for i in result.final_items) - result.credit_total == 533 - 500
    # Without prorate the pending lines are invoiced as they are and nothing is credited.
    plain = cancel(upgraded, at=at, actor="cus_1", billed=billed, pending_items=pending)
    assert plain.final_items == pending and plain.credits == ()


def test_credits_net_negative_billed_lines_and_respect_what_is_left() -> None:
    # always_invoice upgrade on Apr 16: that invoice credited Basic (-500) and charged Pro
    # (+1000) for Apr 16 - May 1. Canceling on Apr 24 credits Pro's last 7 days only.
    at = utc(2024, 4, 24)
    billed = [
        _line("in_april", "il_basic", 1000, utc(2024, 4, 1)),
        _line("in_upgrade", "il_credit", -500, HALFWAY),
        _line("in_upgrade", "il_pro", 1000, HALFWAY),
    ]
    credits = unused_time_credits(billed, at)
    assert sum(c.amount for c in credits) == 467  # 2000 * 7/30 = 466.7
    assert {c.invoice_id for c in credits} == {"in_april", "in_upgrade"}
    # A line already credited (a credit note took 200 of the 1000) caps its part.
    capped = [billed[0].model_copy(update={"creditable": 10}), billed[2]]
    parts = {c.line_id: c.amount for c in unused_time_credits(capped, at)}
    assert parts["il_basic"] <= 10 and sum(parts.values()) <= 10 + 467
    # Nothing left after the period end, and credit lines alone credit nothing.
    assert unused_time_credits(billed, APRIL_END) == ()
    assert unused_time_credits([billed[1]], at) == ()


@settings(max_examples=150, deadline=None)
@given(
    amounts=st.lists(st.integers(min_value=-50_000, max_value=50_000), min_size=1, max_size=6),
    day=st.integers(min_value=1, max_value=30),
)
def test_credit_parts_sum_to_the_net_unused_share(amounts: list[int], day: int) -> None:
    at = utc(2024, 4, day)
    billed = [_line("in_1", f"il_{n}", a, utc(2024, 4, 1)) for n, a in enumerate(amounts)]
    credits = unused_time_credits(billed, at)
    net = sum(unused_share(line, at) for line in billed)
    assert sum(c.amount for c in credits) == max(net, 0)
    by_line = {line.line_id: line for line in billed}
    assert all(0 < c.amount <= unused_share(by_line[c.line_id], at) for c in credits)


def test_canceled_subscriptions_cannot_be_canceled_again() -> None:
    canceled = cancel(active_sub(), at=HALFWAY, actor="cus_1").subscription
    with pytest.raises(InvalidStateTransitionError):
        cancel(canceled, at=HALFWAY, actor="cus_1")
    with pytest.raises(InvalidSubscriptionOperationError):
        cancel_at_period_end(canceled, at=HALFWAY)


def test_cancel_at_period_end_then_the_renewal_cancels() -> None:
    scheduled = cancel_at_period_end(active_sub(), at=HALFWAY)
    assert scheduled.cancel_at_period_end and scheduled.status is SubscriptionStatus.ACTIVE
    assert scheduled.canceled_at == HALFWAY
    plan = plan_renewal(scheduled, APRIL_END + timedelta(minutes=3))
    assert plan.action is RenewalAction.CANCELED_AT_PERIOD_END and plan.invoice is None
    assert plan.subscription.status is SubscriptionStatus.CANCELED
    assert plan.subscription.ended_at == APRIL_END
    assert not is_due(plan.subscription, APRIL_END + timedelta(days=40))


def test_cancel_at_period_end_invoices_pending_prorations_on_a_final_invoice() -> None:
    pending = ProrationItem(
        description="Remaining time on 1 × price_ai after 16 Apr 2024",  # noqa: RUF001
        amount=250,
        currency="USD",
        period_start=HALFWAY,
        period_end=APRIL_END,
        price_id="price_ai",
        quantity=1,
    )
    plan = plan_renewal(
        cancel_at_period_end(active_sub(), at=HALFWAY), APRIL_END, pending_items=[pending]
    )
    assert plan.invoice is not None
    assert [(line.amount, line.proration) for line in plan.invoice.lines] == [(250, True)]


def test_resume_before_period_end_undoes_the_cancellation() -> None:
    scheduled = cancel_at_period_end(active_sub(), at=HALFWAY)
    resumed = resume_before_period_end(scheduled, at=utc(2024, 4, 20))
    assert not resumed.cancel_at_period_end and resumed.canceled_at is None
    assert plan_renewal(resumed, APRIL_END).action is RenewalAction.RENEW
    with pytest.raises(InvalidSubscriptionOperationError):
        resume_before_period_end(resumed, at=utc(2024, 4, 21))  # nothing scheduled
    with pytest.raises(InvalidSubscriptionOperationError):
        resume_before_period_end(scheduled, at=APRIL_END)  # too late


@pytest.mark.parametrize("behavior", list(PauseCollectionBehavior))
def test_paused_collection_still_invoices_with_the_pause_behavior(
    behavior: PauseCollectionBehavior,
) -> None:
    paused = pause_collection(active_sub(), behavior=behavior, at=HALFWAY)
    assert paused.status is SubscriptionStatus.ACTIVE  # collection, not the subscription
    plan = plan_renewal(paused, APRIL_END)
    assert plan.invoice is not None
    assert plan.invoice.collection == InvoiceCollection(behavior.value)
    assert plan.subscription.pause_collection == paused.pause_collection


def test_pause_with_resume_date_ends_on_its_own() -> None:
    paused = pause_collection(
        active_sub(), behavior="mark_uncollectible", at=HALFWAY, resumes_at=utc(2024, 6, 1)
    )
    may = plan_renewal(paused, APRIL_END)
    assert (
        may.invoice is not None and may.invoice.collection is InvoiceCollection.MARK_UNCOLLECTIBLE
    )
    june = plan_renewal(may.subscription, utc(2024, 6, 1))
    assert june.invoice is not None
    assert june.invoice.collection is InvoiceCollection.CHARGE_AUTOMATICALLY
    assert june.subscription.pause_collection is None
    assert collection_paused_at(paused, utc(2024, 6, 1)) is None
    events = due_events(paused, utc(2024, 6, 1, 1))
    assert DueEventType.COLLECTION_RESUME_DUE in [e.type for e in events]


def test_pause_validation_and_manual_resume() -> None:
    with pytest.raises(InvalidSubscriptionError):
        pause_collection(active_sub(), behavior="void", at=HALFWAY, resumes_at=HALFWAY)
    with pytest.raises(InvalidSubscriptionError):
        pause_collection(active_sub(), behavior="skip", at=HALFWAY)
    with pytest.raises(InvalidSubscriptionOperationError):
        resume_collection(active_sub(), at=HALFWAY)
    with pytest.raises(InvalidSubscriptionOperationError):
        pause_collection(make_sub(), behavior="void", at=HALFWAY)  # incomplete
    paused = pause_collection(active_sub(), behavior="void", at=HALFWAY)
    assert resume_collection(paused, at=HALFWAY).pause_collection is None


def test_unpaid_subscriptions_keep_new_invoices_as_drafts() -> None:
    sub = active_sub()
    late = transition(sub, "past_due", cause="payment_failed", actor="system", at=utc(2024, 4, 2))
    unpaid = transition(
        late, "unpaid", cause="retries_exhausted", actor="system", at=utc(2024, 4, 20)
    )
    past_due_plan = plan_renewal(late, APRIL_END)
    assert past_due_plan.invoice is not None
    assert past_due_plan.invoice.collection is InvoiceCollection.CHARGE_AUTOMATICALLY
    plan = plan_renewal(unpaid, APRIL_END)
    assert plan.invoice is not None and plan.invoice.collection is InvoiceCollection.KEEP_AS_DRAFT


def test_a_trial_scheduled_to_cancel_ends_without_converting() -> None:
    trialing = make_sub(trial_period_days=14)
    plan = plan_renewal(cancel_at_period_end(trialing, at=utc(2024, 4, 3)), utc(2024, 4, 15))
    assert plan.action is RenewalAction.CANCELED_AT_PERIOD_END and plan.invoice is None
    assert plan.subscription.status is SubscriptionStatus.CANCELED
    assert plan.subscription.ended_at == utc(2024, 4, 15)


def test_paused_subscriptions_can_be_canceled() -> None:
    behavior = TrialEndBehavior(missing_payment_method=MissingPaymentMethodBehavior.PAUSE)
    trialing = make_sub(
        trial_period_days=7,
        default_payment_method=None,
        trial_settings=TrialSettings(end_behavior=behavior),
    )
    paused = end_trial(trialing, at=utc(2024, 4, 8))
    canceled = cancel(paused, at=utc(2024, 4, 9), actor="admin:support", prorate=True)
    assert canceled.subscription.status is SubscriptionStatus.CANCELED
    assert canceled.credits == ()  # nothing paid, nothing to credit


def test_changes_that_keep_the_status_are_recorded_with_their_actor() -> None:
    sub = active_sub()
    scheduled = cancel_at_period_end(sub, at=HALFWAY, actor="admin:ops")
    undone = resume_before_period_end(scheduled, at=utc(2024, 4, 17), actor="cus_1")
    paused = pause_collection(undone, behavior="void", at=utc(2024, 4, 18), actor="admin:ops")
    resumed = resume_collection(paused, at=utc(2024, 4, 19), actor="admin:ops")
    entries = [(e.cause, e.actor, e.at, e.from_status, e.to_status) for e in resumed.history]
    active = SubscriptionStatus.ACTIVE
    assert entries[len(sub.history) :] == [
        ("cancel_at_period_end_scheduled", "admin:ops", HALFWAY, active, active),
        ("cancel_at_period_end_undone", "cus_1", utc(2024, 4, 17), active, active),
        ("collection_paused", "admin:ops", utc(2024, 4, 18), active, active),
        ("collection_resumed", "admin:ops", utc(2024, 4, 19), active, active),
    ]
    assert status_changes(resumed) == sub.history  # none of them changed the status


def test_a_pause_ending_on_its_own_is_recorded_by_the_renewal_after_it() -> None:
    paused = pause_collection(
        active_sub(), behavior="void", at=HALFWAY, resumes_at=utc(2024, 5, 15), actor="cus_1"
    )
    may = plan_renewal(paused, APRIL_END).subscription
    assert may.history[-1].cause == "collection_paused"  # still paused in May
    june = plan_renewal(may, utc(2024, 6, 1)).subscription
    last = june.history[-1]
    assert (last.cause, last.actor, last.at) == ("collection_resumed", "system", utc(2024, 5, 15))
