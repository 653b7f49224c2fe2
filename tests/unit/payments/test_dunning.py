"""Dunning: the retry schedule, hard declines and the final action."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lms_billing.domain.dunning import (
    DunningAction,
    DunningFinalAction,
    DunningPolicy,
    DunningStep,
    next_dunning_step,
)
from lms_billing.errors import InvalidIntervalError, ValidationError

FIRST = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)


def _step(policy: DunningPolicy, attempts: int, code: str | None, now: datetime) -> DunningStep:
    return next_dunning_step(
        policy, failed_attempts=attempts, first_failed_at=FIRST, decline_code=code, now=now
    )


def test_soft_declines_follow_the_schedule_from_the_first_failure() -> None:
    policy = DunningPolicy()  # 1, 3, 5, 7 days
    expected_days = [1, 3, 5, 7]
    now = FIRST
    for attempt, day in enumerate(expected_days, start=1):
        step = _step(policy, attempt, "insufficient_funds", now)
        assert step.action is DunningAction.RETRY
        assert step.retry_at == FIRST + timedelta(days=day)
        assert step.subscription_status == "past_due"
        assert step.event == "invoice.payment_failed"
        now = step.retry_at
    final = _step(policy, 5, "insufficient_funds", now)
    assert final.action is DunningAction.FINAL
    assert final.final_action is DunningFinalAction.UNPAID
    assert final.subscription_status == "unpaid"


def test_do_not_honor_is_retried() -> None:
    step = _step(DunningPolicy(), 1, "do_not_honor", FIRST)
    assert step.action is DunningAction.RETRY


@pytest.mark.parametrize(
    "code", ["stolen_card", "lost_card", "pickup_card", "fraudulent", "expired_card"]
)
def test_hard_declines_are_not_retried(code: str) -> None:
    policy = DunningPolicy(final_action=DunningFinalAction.CANCELED)
    waiting = _step(policy, 1, code, FIRST)
    assert waiting.action is DunningAction.AWAIT_PAYMENT_METHOD
    assert waiting.retry_at == FIRST + timedelta(days=7)
    assert waiting.subscription_status == "past_due"
    over = _step(policy, 1, code, FIRST + timedelta(days=7))
    assert over.action is DunningAction.FINAL
    assert over.subscription_status == "canceled"
    assert code in over.reason


def test_authentication_required_asks_the_customer_to_act() -> None:
    step = _step(DunningPolicy(), 1, "authentication_required", FIRST)
    assert step.action is DunningAction.AWAIT_PAYMENT_METHOD
    assert step.event == "invoice.payment_action_required"


def test_late_run_skips_retries_already_in_the_past() -> None:
    step = _step(DunningPolicy(), 1, None, FIRST + timedelta(days=4))
    assert step.retry_at == FIRST + timedelta(days=5)


def test_custom_policy_and_validation() -> None:
    policy = DunningPolicy(retry_days=(2,), non_retryable_decline_codes=frozenset({"do_not_honor"}))
    assert _step(policy, 1, "do_not_honor", FIRST).action is DunningAction.AWAIT_PAYMENT_METHOD
    assert _step(policy, 2, None, FIRST + timedelta(days=2)).action is DunningAction.FINAL
    with pytest.raises(InvalidIntervalError):
        DunningPolicy(retry_days=(3, 1))
    with pytest.raises(InvalidIntervalError):
        DunningPolicy(retry_days=(0, 1))
    with pytest.raises(ValidationError):
        _step(DunningPolicy(), 0, None, FIRST)
