"""Reconciliation: what settled in the balance and what each payout carried to the bank."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import responses

from lms_billing.clock import TestClock
from lms_billing.domain.payments import PaymentRequest
from lms_billing.errors import ValidationError
from lms_billing.ports import ReconciliationSource
from lms_billing.providers.paypal_gateway import PayPalGateway
from lms_billing.providers.sandbox import SandboxGateway

from . import paypal_payloads as pp


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


SEARCH = "https://api-m.sandbox.paypal.com/v1/reporting/transactions"
PAYPAL_NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@pytest.fixture
def paypal() -> Iterator[tuple[PayPalGateway, responses.RequestsMock]]:
    gateway = PayPalGateway("id", "secret", webhook_id="WH-1", clock=TestClock(PAYPAL_NOW))
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.post("https://api-m.sandbox.paypal.com/v1/oauth2/token", json=pp.TOKEN)
        yield gateway, mock


def _query(call: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(call.request.url).query).items()}


def test_paypal_lists_balance_transactions_from_transaction_search(
    paypal: tuple[PayPalGateway, responses.RequestsMock],
) -> None:
    gateway, mock = paypal
    assert isinstance(gateway, ReconciliationSource)
    page = pp.transaction_search(
        pp.transaction("7KY78659SG487110K", "T0006", "100.00", "2026-11-20T09:00:00+0000", "-3.98"),
        pp.transaction("1Y107995YT783435V", "T1107", "-10.00", "2026-11-22T09:00:00+0000", "0.35"),
        pp.transaction("9BT88556XM275774M", "T0400", "-500.00", "2026-11-23T09:00:00+0000"),
    )
    search = mock.get(SEARCH, json=page)
    found = gateway.list_balance_transactions()
    query = _query(search.calls[0])
    assert (query["start_date"], query["end_date"]) == (
        "2026-10-25T10:00:00Z",  # PayPal searches at most 31 days at a time
        "2026-11-25T10:00:00Z",
    )
    assert (query["fields"], query["page_size"], query["page"]) == ("transaction_info", "500", "1")
    assert [(t.id, t.type, t.amount, t.fee, t.net, t.currency) for t in found] == [
        ("9BT88556XM275774M", "payout", -50000, 0, -50000, "USD"),
        ("1Y107995YT783435V", "refund", -1000, -35, -965, "USD"),
        ("7KY78659SG487110K", "charge", 10000, 398, 9602, "USD"),  # the capture's fee
    ]
    assert found[-1].status == "available" and found[-1].source_id == "7KY78659SG487110K"
    assert found[-1].created == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def test_paypal_searches_window_by_window_and_page_by_page(
    paypal: tuple[PayPalGateway, responses.RequestsMock],
) -> None:
    gateway, mock = paypal
    older = pp.transaction("2AB", "T0006", "20.00", "2026-10-15T09:00:00+0000", "-0.88")
    recent = pp.transaction("3CD", "T0006", "30.00", "2026-11-24T09:00:00+0000", "-1.17")
    second = pp.transaction("4EF", "T0006", "40.00", "2026-11-10T09:00:00+0000", "-1.46")
    mock.get(SEARCH, json=pp.transaction_search(recent, total_pages=2))
    mock.get(SEARCH, json=pp.transaction_search(second, page=2, total_pages=2))
    mock.get(SEARCH, json=pp.transaction_search(older))
    found = gateway.list_balance_transactions(created_after=PAYPAL_NOW - timedelta(days=45))
    assert [t.id for t in found] == ["3CD", "4EF", "2AB"]
    queries = [_query(c) for c in mock.calls if c.request.url.startswith(SEARCH)]
    assert [(q["start_date"], q["end_date"], q["page"]) for q in queries] == [
        ("2026-10-25T10:00:00Z", "2026-11-25T10:00:00Z", "1"),
        ("2026-10-25T10:00:00Z", "2026-11-25T10:00:00Z", "2"),
        ("2026-10-11T10:00:00Z", "2026-10-25T10:00:00Z", "1"),
    ]


def test_paypal_payouts_are_withdrawals_and_cannot_filter_transactions(
    paypal: tuple[PayPalGateway, responses.RequestsMock],
) -> None:
    gateway, mock = paypal
    mock.get(
        SEARCH,
        json=pp.transaction_search(
            pp.transaction("7KY78659SG487110K", "T0006", "100.00", "2026-11-20T09:00:00+0000"),
            pp.transaction("9BT88556XM275774M", "T0400", "-500.00", "2026-11-23T09:00:00+0000"),
            pp.transaction("5XY", "T0403", "-45.00", "2026-11-24T09:00:00+0000", status="P"),
        ),
    )
    payouts = gateway.list_payouts()
    assert [(p.id, p.amount, p.currency, p.status) for p in payouts] == [
        ("5XY", 4500, "USD", "pending"),
        ("9BT88556XM275774M", 50000, "USD", "paid"),
    ]
    with pytest.raises(ValidationError):  # PayPal does not link transactions to a withdrawal
        gateway.list_balance_transactions(payout_id="9BT88556XM275774M")
