"""Normalized payment models: amounts, statuses, verification, refunds, expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pydantic
import pytest

from lms_billing.domain.payment_rules import (
    check_refund_amount,
    raise_for_outcome,
    status_supersedes,
    verify_payment,
)
from lms_billing.domain.payments import (
    BalanceTransaction,
    PaymentMethodDetails,
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
)
from lms_billing.errors import (
    AuthenticationRequiredError,
    InvalidAmountError,
    PaymentDeclinedError,
    UnknownCurrencyError,
    ValidationError,
)
from lms_billing.money import Money


def _result(**changes: object) -> PaymentResult:
    data: dict[str, object] = {
        "id": "pi_1",
        "gateway": "sandbox",
        "status": "succeeded",
        "amount": 2000,
        "amount_received": 2000,
        "currency": "usd",
    }
    data.update(changes)
    return PaymentResult.model_validate(data)


def test_request_amounts_are_positive_integer_minor_units() -> None:
    request = PaymentRequest(amount=1999, currency="eur", idempotency_key="k")
    assert request.currency == "EUR"
    assert request.money == Money("19.99", "EUR")
    with pytest.raises(InvalidAmountError):
        PaymentRequest(amount=0, currency="EUR", idempotency_key="k")
    with pytest.raises(InvalidAmountError):
        PaymentRequest(amount=19.99, currency="EUR", idempotency_key="k")  # type: ignore[arg-type]
    with pytest.raises(UnknownCurrencyError):
        PaymentRequest(amount=100, currency="EURO", idempotency_key="k")


def test_received_never_exceeds_amount_nor_refunded_received() -> None:
    with pytest.raises(InvalidAmountError):
        _result(amount_received=2001)
    with pytest.raises(InvalidAmountError):
        _result(amount_refunded=2001)


def test_balance_transaction_refuses_float_rates() -> None:
    with pytest.raises(ValidationError):
        BalanceTransaction(
            id="txn",
            gateway="stripe",
            type="charge",
            amount=1,
            net=1,
            currency="USD",
            exchange_rate=1.1,  # type: ignore[arg-type]
        )


@pytest.mark.parametrize(
    ("current", "incoming", "expected"),
    [
        ("processing", "succeeded", True),
        ("succeeded", "processing", False),  # a late processing never overrides succeeded
        ("succeeded", "failed", False),
        ("canceled", "succeeded", False),
        ("requires_action", "processing", True),
        ("processing", "requires_action", False),
        ("processing", "failed", True),
        ("failed", "processing", False),  # stale without timestamps
        ("requires_capture", "succeeded", True),
    ],
)
def test_status_moves_only_forward(current: str, incoming: str, expected: bool) -> None:
    assert status_supersedes(PaymentStatus(current), PaymentStatus(incoming)) is expected


def test_failed_payment_may_restart_only_with_a_newer_report() -> None:
    earlier = datetime(2026, 1, 1, tzinfo=UTC)
    later = earlier + timedelta(seconds=5)
    failed, processing = PaymentStatus.FAILED, PaymentStatus.PROCESSING
    assert status_supersedes(failed, processing, current_at=earlier, incoming_at=later)
    assert not status_supersedes(failed, processing, current_at=later, incoming_at=earlier)


def test_verify_payment_checks_status_amount_and_currency() -> None:
    verify_payment(_result(), amount=2000, currency="usd", gateway="sandbox")
    with pytest.raises(ValidationError, match="amount received is 1999"):
        verify_payment(_result(amount_received=1999), amount=2000, currency="USD")
    with pytest.raises(ValidationError, match="currency is USD"):
        verify_payment(_result(), amount=2000, currency="EUR")
    with pytest.raises(ValidationError, match="status is processing"):
        verify_payment(_result(status="processing", amount_received=0), amount=2000, currency="USD")


def test_raise_for_outcome() -> None:
    assert raise_for_outcome(_result()).succeeded
    declined = _result(status="failed", amount_received=0, decline_code="insufficient_funds")
    with pytest.raises(PaymentDeclinedError) as caught:
        raise_for_outcome(declined)
    assert caught.value.decline_code == "insufficient_funds"
    with pytest.raises(AuthenticationRequiredError):
        raise_for_outcome(_result(status="requires_action", amount_received=0))
    with pytest.raises(AuthenticationRequiredError):
        raise_for_outcome(
            _result(status="failed", amount_received=0, decline_code="authentication_required")
        )


def test_refunds_never_exceed_what_was_paid() -> None:
    paid = _result(amount_refunded=500)
    assert check_refund_amount(paid, None) == 1500
    assert check_refund_amount(paid, 1500) == 1500
    with pytest.raises(InvalidAmountError):
        check_refund_amount(paid, 1501)
    with pytest.raises(InvalidAmountError):
        check_refund_amount(_result(amount_refunded=2000), None)


def test_card_expiry_helpers() -> None:
    card = PaymentMethodDetails(token="pm_1", gateway="sandbox", exp_month=3, exp_year=2027)
    assert not card.is_expired(datetime(2027, 3, 31, tzinfo=UTC))
    assert card.is_expired(datetime(2027, 4, 1, tzinfo=UTC))
    assert card.expires_within(datetime(2027, 2, 10, tzinfo=UTC), months=1)
    assert not card.expires_within(datetime(2026, 12, 10, tzinfo=UTC), months=1)
    with pytest.raises(pydantic.ValidationError, match="last4"):
        PaymentMethodDetails(token="pm_1", gateway="sandbox", last4="42424")
