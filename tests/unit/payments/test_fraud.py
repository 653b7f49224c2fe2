"""Fraud rules: each built-in rule, and how verdicts combine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lms_billing.domain.fraud import (
    AmountThresholdRule,
    CountryMismatchRule,
    DisposableEmailRule,
    FraudContext,
    FraudOutcome,
    FraudVerdict,
    PaymentAttempt,
    ProviderRiskRule,
    TooManyDeclinesRule,
    VelocityRule,
    default_rules,
    evaluate_rules,
)
from lms_billing.domain.payments import RiskLevel, RiskOutcome
from lms_billing.ports import FraudRule

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _context(**changes: object) -> FraudContext:
    data: dict[str, object] = {
        "now": NOW,
        "amount": 4900,
        "currency": "EUR",
        "customer_id": "cus_1",
        "email": "ada@example.org",
        "ip_address": "203.0.113.7",
        "card_fingerprint": "fp_1",
    }
    data.update(changes)
    return FraudContext.model_validate(data)


def _attempts(n: int, *, minutes_apart: int = 5, **fields: object) -> tuple[PaymentAttempt, ...]:
    return tuple(
        PaymentAttempt.model_validate(
            {"at": NOW - timedelta(minutes=minutes_apart * (i + 1)), **fields}
        )
        for i in range(n)
    )


def test_built_in_rules_satisfy_the_fraud_rule_protocol() -> None:
    for rule in default_rules():
        assert isinstance(rule, FraudRule)
    assert evaluate_rules(default_rules(), _context()).outcome is FraudOutcome.ALLOW


@pytest.mark.parametrize(
    ("key", "field"),
    [("customer", "customer_id"), ("card", "card_fingerprint"), ("ip", "ip_address")],
)
def test_velocity_counts_the_current_attempt_inside_the_window(key: str, field: str) -> None:
    value = _context().model_dump()[field]
    rule = VelocityRule(key, max_attempts=3, window=timedelta(hours=1))  # type: ignore[arg-type]
    assert rule.evaluate(_context(recent_attempts=_attempts(2, **{field: value}))) is None
    verdict = rule.evaluate(_context(recent_attempts=_attempts(3, **{field: value})))
    assert verdict is not None and verdict.outcome is FraudOutcome.REVIEW
    assert verdict.reasons[0].rule == f"velocity_{key}"
    # attempts outside the window or by someone else do not count
    old = _attempts(5, minutes_apart=61, **{field: value})
    assert rule.evaluate(_context(recent_attempts=old)) is None
    assert rule.evaluate(_context(recent_attempts=_attempts(5, **{field: "someone-else"}))) is None


def test_country_mismatch() -> None:
    rule = CountryMismatchRule()
    assert rule.evaluate(_context(card_country="DE", ip_country="DE", billing_country="DE")) is None
    assert rule.evaluate(_context(card_country="DE")) is None  # one known country
    two = rule.evaluate(_context(card_country="DE", ip_country="NG", billing_country="DE"))
    assert two is not None and two.outcome is FraudOutcome.REVIEW
    assert "ip NG" in two.reasons[0].message
    three = rule.evaluate(_context(card_country="DE", ip_country="NG", billing_country="US"))
    assert three is not None and three.outcome is FraudOutcome.BLOCK


def test_amount_thresholds_are_per_currency() -> None:
    rule = AmountThresholdRule(review_above={"EUR": 50_000}, block_above={"EUR": 500_000})
    assert rule.evaluate(_context(amount=50_000)) is None
    review = rule.evaluate(_context(amount=50_001))
    assert review is not None and review.outcome is FraudOutcome.REVIEW
    block = rule.evaluate(_context(amount=500_001))
    assert block is not None and block.outcome is FraudOutcome.BLOCK
    assert rule.evaluate(_context(amount=9_999_999, currency="JPY")) is None


def test_too_many_declines() -> None:
    rule = TooManyDeclinesRule(max_declines=3)
    declines = _attempts(3, customer_id="cus_1", decline_code="generic_decline")
    verdict = rule.evaluate(_context(recent_attempts=declines))
    assert verdict is not None and verdict.outcome is FraudOutcome.BLOCK
    successes = _attempts(3, customer_id="cus_1", succeeded=True)
    assert rule.evaluate(_context(recent_attempts=successes)) is None
    same_card = _attempts(
        3, card_fingerprint="fp_1", customer_id="cus_other", decline_code="do_not_honor"
    )
    assert rule.evaluate(_context(recent_attempts=same_card)) is not None
    # Unfinished 3-D Secure checkouts and payments in flight are not declines.
    unfinished = _attempts(5, customer_id="cus_1", succeeded=False, declined=False)
    assert rule.evaluate(_context(recent_attempts=unfinished)) is None
    # A failure without a decline code (3-D Secure failed) still counts when marked declined.
    failed = _attempts(3, customer_id="cus_1", declined=True)
    assert rule.evaluate(_context(recent_attempts=failed)) is not None


@pytest.mark.parametrize(
    ("email", "flagged"),
    [
        ("x@mailinator.com", True),
        ("x@EU.Mailinator.com", True),
        ("x@example.org", False),
        ("x@notmailinator.com", False),
        (None, False),
    ],
)
def test_disposable_email(email: str | None, flagged: bool) -> None:
    assert (DisposableEmailRule().evaluate(_context(email=email)) is not None) is flagged


@pytest.mark.parametrize(
    ("risk", "expected"),
    [
        (RiskOutcome(level=RiskLevel.NORMAL, outcome_type="authorized"), None),
        (RiskOutcome(level=RiskLevel.ELEVATED), FraudOutcome.REVIEW),
        (RiskOutcome(level=RiskLevel.NORMAL, outcome_type="manual_review"), FraudOutcome.REVIEW),
        (RiskOutcome(level=RiskLevel.HIGHEST), FraudOutcome.BLOCK),
        (RiskOutcome(level=RiskLevel.UNKNOWN, outcome_type="blocked"), FraudOutcome.BLOCK),
    ],
)
def test_provider_risk_signal(risk: RiskOutcome, expected: FraudOutcome | None) -> None:
    verdict = ProviderRiskRule().evaluate(_context(provider_risk=risk))
    assert (verdict.outcome if verdict else None) is expected


def test_strictest_outcome_wins_and_every_reason_is_kept() -> None:
    class Custom:
        name = "custom"

        def evaluate(self, context: FraudContext) -> FraudVerdict | None:
            return FraudVerdict.flag(self.name, FraudOutcome.ALLOW, "trusted", "Known good payer.")

    context = _context(
        email="x@yopmail.com",
        card_country="DE",
        ip_country="NG",
        billing_country="US",
    )
    verdict = evaluate_rules([Custom(), DisposableEmailRule(), CountryMismatchRule()], context)
    assert verdict.outcome is FraudOutcome.BLOCK
    assert [r.rule for r in verdict.reasons] == ["custom", "disposable_email", "country_mismatch"]
    assert not verdict.allowed
    assert evaluate_rules([], context) == FraudVerdict()
