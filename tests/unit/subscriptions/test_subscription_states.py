"""The subscription model and its explicit state machine."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sub_factories import make_item, make_sub, utc

from lms_billing.domain.billing_cycle import BillingCycleMode, BillingPeriod
from lms_billing.domain.subscriptions import (
    TERMINAL_STATUSES,
    TRANSITIONS,
    StatusTransition,
    Subscription,
    SubscriptionStatus,
    activate,
    can_transition,
    create_subscription,
    expire_incomplete,
    transition,
)
from lms_billing.errors import (
    CurrencyMismatchError,
    InvalidIntervalError,
    InvalidQuantityError,
    InvalidStateTransitionError,
    InvalidSubscriptionError,
    ValidationError,
)

S = SubscriptionStatus
ALL_PAIRS = [(a, b) for a in S for b in S]


def in_status(status: SubscriptionStatus) -> Subscription:
    """A subscription forced into ``status`` (bypassing the machine) to test exits."""
    return make_sub().model_copy(update={"status": status})


def test_transition_table_is_explicit_and_matches_stripe() -> None:
    assert set(TRANSITIONS) == set(S)
    assert TRANSITIONS[S.INCOMPLETE] == {S.ACTIVE, S.INCOMPLETE_EXPIRED, S.CANCELED}
    assert TRANSITIONS[S.TRIALING] == {S.ACTIVE, S.PAST_DUE, S.PAUSED, S.CANCELED}
    assert TRANSITIONS[S.ACTIVE] == {S.PAST_DUE, S.CANCELED}
    assert TRANSITIONS[S.PAST_DUE] == {S.ACTIVE, S.UNPAID, S.CANCELED}
    assert TRANSITIONS[S.UNPAID] == {S.ACTIVE, S.CANCELED}
    assert TRANSITIONS[S.PAUSED] == {S.ACTIVE, S.CANCELED}
    assert all(not TRANSITIONS[status] for status in TERMINAL_STATUSES)


@pytest.mark.parametrize(("from_status", "to_status"), ALL_PAIRS)
def test_every_pair_is_allowed_or_rejected(
    from_status: SubscriptionStatus, to_status: SubscriptionStatus
) -> None:
    sub = in_status(from_status)
    at = utc(2024, 4, 10)
    if can_transition(from_status, to_status):
        moved = transition(sub, to_status, cause="test", actor="admin:ops", at=at)
        assert moved.status is to_status
        assert moved.history[-1] == StatusTransition(
            from_status=from_status, to_status=to_status, at=at, cause="test", actor="admin:ops"
        )
    else:
        with pytest.raises(InvalidStateTransitionError) as info:
            transition(sub, to_status, cause="test", actor="admin:ops", at=at)
        assert info.value.details["from_status"] == from_status.value


def test_transition_returns_a_new_model_and_keeps_history() -> None:
    sub = make_sub()
    active = activate(sub, at=utc(2024, 4, 1, 0, 5))
    late = transition(
        active, "past_due", cause="payment_failed", actor="system", at=utc(2024, 5, 1)
    )
    assert sub.status is S.INCOMPLETE and len(sub.history) == 1  # the original is untouched
    assert [(t.from_status, t.to_status, t.cause) for t in late.history] == [
        (None, S.INCOMPLETE, "created"),
        (S.INCOMPLETE, S.ACTIVE, "first_invoice_paid"),
        (S.ACTIVE, S.PAST_DUE, "payment_failed"),
    ]


def test_cancel_transition_sets_end_dates() -> None:
    canceled = transition(
        activate(make_sub(), at=utc(2024, 4, 1)),
        S.CANCELED,
        cause="fraud",
        actor="admin:risk",
        at=utc(2024, 4, 3),
    )
    assert canceled.ended_at == canceled.canceled_at == utc(2024, 4, 3)


def test_incomplete_expires() -> None:
    expired = expire_incomplete(make_sub(), at=utc(2024, 4, 1, 23))
    assert expired.status is S.INCOMPLETE_EXPIRED and expired.ended_at == utc(2024, 4, 1, 23)
    with pytest.raises(InvalidStateTransitionError):
        activate(expired, at=utc(2024, 4, 2))


def test_new_subscription_without_trial_is_incomplete_for_one_full_period() -> None:
    sub = make_sub(at=utc(2024, 1, 31, 10))
    assert sub.status is S.INCOMPLETE
    assert sub.billing_cycle_anchor == utc(2024, 1, 31, 10)
    assert sub.current_period == BillingPeriod(start=utc(2024, 1, 31, 10), end=utc(2024, 2, 29, 10))
    assert sub.history[0].from_status is None and sub.history[0].actor == "system"


def test_calendar_billing_starts_with_a_stub_period() -> None:
    sub = make_sub(at=utc(2025, 1, 15, 10), billing_mode=BillingCycleMode.CALENDAR)
    assert sub.billing_cycle_anchor == utc(2025, 2, 1)
    assert sub.current_period == BillingPeriod(start=utc(2025, 1, 15, 10), end=utc(2025, 2, 1))


def test_explicit_anchor_must_be_within_the_first_cycle() -> None:
    sub = make_sub(at=utc(2025, 1, 15), billing_cycle_anchor_at=utc(2025, 1, 20))
    assert sub.current_period.end == utc(2025, 1, 20)
    with pytest.raises(InvalidSubscriptionError):
        make_sub(at=utc(2025, 1, 15), billing_cycle_anchor_at=utc(2025, 3, 1))


def test_base_plan_and_add_on_with_seats() -> None:
    sub = make_sub(
        items=[
            make_item(id="si_base", price_id="price_team", unit_amount=1500, quantity=12),
            make_item(id="si_ai", price_id="price_ai_tutor", unit_amount=500, quantity=3),
        ]
    )
    assert [item.amount for item in sub.items] == [18_000, 1_500]


def test_item_validation() -> None:
    with pytest.raises(InvalidQuantityError):
        make_item(quantity=-1)
    with pytest.raises(InvalidIntervalError):
        make_item(interval_count=0)
    with pytest.raises(ValidationError):
        make_item(unit_amount=-5)


def test_subscription_invariants() -> None:
    with pytest.raises(InvalidSubscriptionError):
        make_sub(items=[])
    with pytest.raises(CurrencyMismatchError):
        make_sub(items=[make_item(), make_item(id="si_2", price_id="p2", currency="EUR")])
    with pytest.raises(InvalidIntervalError):
        make_sub(items=[make_item(), make_item(id="si_2", price_id="p2", interval="year")])
    with pytest.raises(InvalidSubscriptionError):
        make_sub(items=[make_item(), make_item(id="si_2")])  # the same price twice
    with pytest.raises(ValidationError):
        create_subscription(
            id="sub_x",
            customer_id="cus_1",
            items=[make_item()],
            at=utc(2024, 1, 1).replace(tzinfo=None),
        )


def test_round_trips_through_json_for_storage() -> None:
    sub = activate(make_sub(trial_period_days=None), at=utc(2024, 4, 1, 1))
    restored = Subscription.model_validate(sub.model_dump(mode="json"))
    assert restored == sub
    assert restored.current_period_end - restored.current_period_start == timedelta(days=30)


def test_unknown_status_names_are_rejected_with_a_typed_error() -> None:
    with pytest.raises(InvalidSubscriptionError):
        transition(make_sub(), "frozen", cause="test", actor="system", at=utc(2024, 4, 2))
