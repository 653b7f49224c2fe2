"""Reconciliation: what settled in the balance and what each payout carried to the bank."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lms_billing.clock import TestClock
from lms_billing.domain.payments import PaymentRequest
from lms_billing.ports import ReconciliationSource
from lms_billing.providers.paypal_gateway import PayPalGateway
from lms_billing.providers.sandbox import SandboxGateway


def _charge(gateway: SandboxGateway, amount: int, key: str) -> None:
    gateway.create_payment(
        PaymentRequest(
            amount=amount, currency="EUR", payment_method="pm_card_visa", idempotency_key=key
        )
    )


def test_sandbox_lists_newest_first_and_by_payout() -> None:
    clock = TestClock(datetime(2026, 11, 2, tzinfo=UTC))
    gateway = SandboxGateway(clock=clock)
    assert isinstance(gateway, ReconciliationSource)

    _charge(gateway, 1000, "a")
    clock.advance(timedelta(days=1))
    _charge(gateway, 2000, "b")
    first = gateway.create_payout("EUR", idempotency_key="po-1")
    clock.advance(timedelta(days=1))
    _charge(gateway, 4000, "c")

    charges = [t.amount for t in gateway.list_balance_transactions() if t.type == "charge"]
    assert charges == [4000, 2000, 1000]
    in_first = gateway.list_balance_transactions(payout_id=first.id)
    assert sorted(t.amount for t in in_first) == [1000, 2000]
    assert first.amount == sum(t.net for t in in_first)
    recent = gateway.list_balance_transactions(created_after=clock.now() - timedelta(hours=1))
    assert [t.amount for t in recent] == [4000]
    assert gateway.list_payouts() == [first]
    assert gateway.list_balance_transactions(limit=1)[0].amount == 4000


def test_paypal_is_not_a_reconciliation_source_yet() -> None:
    assert not hasattr(PayPalGateway, "list_payouts")
