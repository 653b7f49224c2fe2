"""Immediate cancellation settles the period: credit for the unused time of what was
actually billed (credit notes), pending prorations invoiced or discarded, unpaid periods
never credited, and refunds through the payments service."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from subscription_support import DecliningCollector, EventLog, Shop, shop_on

from lms_billing import Billing, TestClock
from lms_billing.domain.invoices import InvoiceStatus
from lms_billing.domain.payments import PaymentStatus, RefundStatus
from lms_billing.domain.subscriptions import Subscription, SubscriptionStatus
from lms_billing.errors import InvalidSubscriptionError
from lms_billing.storage.base import MAX_LIST_LIMIT

MARCH_1 = datetime(2026, 3, 1, tzinfo=UTC)  # periods: Mar 1 - Apr 1 (31 days), then 30 days
MARCH_10 = datetime(2026, 3, 10, tzinfo=UTC)
MARCH_20 = datetime(2026, 3, 20, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite"])
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shop]:
    yield from shop_on(request.param, tmp_path, start=MARCH_1)


def _balance(shop: Shop) -> int:
    with shop.billing.storage.unit_of_work() as uow:
        return uow.customer_balance.balance(shop.customer.id, "USD")


def _basic(shop: Shop) -> Subscription:
    return shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], idempotency_key="c"
    )


def _upgrade_on_march_10(shop: Shop, sub: Subscription) -> None:
    shop.clock.set(MARCH_10)
    shop.subscriptions.update_items(sub.id, [{"price_id": shop.pro.id}], idempotency_key="u")
    # Basic 10.00 -> Pro 20.00 with 22 of 31 days left, left pending for the next invoice.
    assert [p.item.amount for p in shop.subscriptions.pending_items(sub.id)] == [-710, 1419]


def test_a_pending_upgrade_is_never_credited(shop: Shop) -> None:
    sub = _basic(shop)
    _upgrade_on_march_10(shop, sub)
    canceled = shop.subscriptions.cancel(sub.id, prorate=True, idempotency_key="x")
    assert canceled.status is SubscriptionStatus.CANCELED
    # Only Basic was ever paid for: 22/31 of 10.00 comes back, not 22/31 of Pro (14.19).
    assert _balance(shop) == 710
    (note,) = shop.subscriptions.cancellation_credit_notes(sub.id)
    assert (note.total, note.credit_amount, note.refund_amount) == (710, 710, 0)
    assert note.invoice_id == shop.invoices(sub.id)[0].id
    # The pending lines are settled (nothing of Pro was used), none is left behind.
    assert shop.subscriptions.pending_items(sub.id) == []
    assert len(shop.invoices(sub.id)) == 1
    with shop.billing.storage.unit_of_work() as uow:
        assert uow.subscriptions.claim_due(datetime(2027, 1, 1, tzinfo=UTC), 10) == []


def test_pending_prorations_go_on_a_final_invoice_for_the_time_used(shop: Shop) -> None:
    sub = _basic(shop)
    _upgrade_on_march_10(shop, sub)
    shop.clock.set(MARCH_20)  # 12 of 31 days left
    shop.subscriptions.cancel(sub.id, prorate=True, idempotency_key="x")
    first, final = shop.invoices(sub.id)
    assert final.billing_reason == "subscription_update"
    # Mar 10-20 only: Basic credited -710 * 10/22, Pro charged 1419 * 10/22.
    assert [line.amount for line in final.lines] == [-323, 645]
    assert all(line.period and line.period.end == MARCH_20 for line in final.lines)
    (note,) = shop.subscriptions.cancellation_credit_notes(sub.id)
    assert note.invoice_id == first.id and note.total == 387  # Basic Mar 20 - Apr 1
    # The final invoice (3.22) was paid from that credit; what is left is the true refund:
    # 10.00 paid - Basic Mar 1-10 - Pro Mar 10-20 = 0.65.
    assert final.status is InvoiceStatus.PAID and final.applied_balance == 322
    assert _balance(shop) == 65
    assert shop.subscriptions.pending_items(sub.id) == []


def test_pending_prorations_can_be_discarded(shop: Shop) -> None:
    sub = _basic(shop)
    _upgrade_on_march_10(shop, sub)
    shop.clock.set(MARCH_20)
    shop.subscriptions.cancel(sub.id, prorate=True, invoice_now=False, idempotency_key="x")
    assert len(shop.invoices(sub.id)) == 1  # no final invoice
    assert shop.subscriptions.pending_items(sub.id) == []
    assert _balance(shop) == 387  # Basic's unused time only


def test_without_prorate_pending_prorations_are_invoiced_as_they_are(shop: Shop) -> None:
    sub = _basic(shop)
    _upgrade_on_march_10(shop, sub)
    shop.clock.set(MARCH_20)
    shop.subscriptions.cancel(sub.id, idempotency_key="x")
    final = shop.invoices(sub.id)[-1]
    assert [line.amount for line in final.lines] == [-710, 1419]
    assert shop.subscriptions.cancellation_credit_notes(sub.id) == []


def test_an_unpaid_period_is_never_credited_its_invoice_is_reduced(shop: Shop) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.pro.id}], idempotency_key="c"
    )
    shop.subscriptions.collector = DecliningCollector()
    shop.clock.set(datetime(2026, 4, 1, tzinfo=UTC))
    shop.subscriptions.run_billing()
    assert shop.subscriptions.get(sub.id).status is SubscriptionStatus.PAST_DUE
    shop.clock.set(datetime(2026, 4, 2, tzinfo=UTC))  # 29 of 30 days unused
    shop.subscriptions.cancel(sub.id, prorate=True, idempotency_key="x")
    assert _balance(shop) == 0  # used to credit 19.33 while the 20.00 stayed open
    renewal = shop.invoices(sub.id)[-1]
    assert renewal.status is InvoiceStatus.OPEN
    assert renewal.amount_remaining == 67  # what Apr 1-2 cost, still owed
    (note,) = shop.subscriptions.cancellation_credit_notes(sub.id)
    assert (note.pre_payment_amount, note.credit_amount) == (1933, 0)


def test_the_credit_is_net_of_discounts(shop: Shop) -> None:
    coupon = shop.billing.coupons.create_coupon(
        percent_off="50", duration="forever", idempotency_key="cp"
    )
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.pro.id}], coupon=coupon.id, idempotency_key="c"
    )
    assert shop.invoices(sub.id)[0].total == 1000
    shop.clock.set(datetime(2026, 3, 16, 12, tzinfo=UTC))  # exactly half of 31 days left
    shop.subscriptions.cancel(sub.id, prorate=True, idempotency_key="x")
    assert _balance(shop) == 500  # half of what was paid, not half of the list price


def test_a_paid_invoice_smaller_than_its_unused_share_credits_the_rest_to_the_balance(
    shop: Shop,
) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.pro.id}], idempotency_key="c"
    )
    shop.clock.set(datetime(2026, 3, 16, tzinfo=UTC))  # downgrade with 16 of 31 days left
    shop.subscriptions.update_items(sub.id, [{"price_id": shop.basic.id}], idempotency_key="d")
    shop.clock.set(datetime(2026, 4, 1, tzinfo=UTC))
    shop.subscriptions.run_billing()
    april = shop.invoices(sub.id)[-1]
    assert [line.amount for line in april.lines] == [1000, -1032, 516]
    assert (april.total, april.status) == (484, InvoiceStatus.PAID)
    shop.clock.set(datetime(2026, 4, 2, tzinfo=UTC))
    shop.subscriptions.cancel(sub.id, prorate=True, idempotency_key="x")
    # 29/30 of April's Basic is unused (967); the invoice can credit only its 4.84.
    (note,) = shop.subscriptions.cancellation_credit_notes(sub.id)
    assert note.total == 484
    assert _balance(shop) == 967


def test_refund_needs_prorate_and_actor_and_cause_are_recorded(shop: Shop) -> None:
    sub = _basic(shop)
    with pytest.raises(InvalidSubscriptionError):
        shop.subscriptions.cancel(sub.id, refund=True, idempotency_key="x")
    assert shop.subscriptions.get(sub.id).status is SubscriptionStatus.ACTIVE
    canceled = shop.subscriptions.cancel(
        sub.id, cause="chargeback_risk", actor="admin:support-7", idempotency_key="y"
    )
    last = canceled.history[-1]
    assert (last.to_status, last.cause, last.actor) == (
        "canceled",
        "chargeback_risk",
        "admin:support-7",
    )


def test_refund_without_a_recorded_payment_goes_to_the_balance(shop: Shop) -> None:
    sub = _basic(shop)  # paid out of band: there is no payment to refund
    shop.clock.set(datetime(2026, 3, 16, 12, tzinfo=UTC))
    shop.subscriptions.cancel(sub.id, prorate=True, refund=True, idempotency_key="x")
    (note,) = shop.subscriptions.cancellation_credit_notes(sub.id)
    assert (note.refund_amount, note.credit_amount) == (0, 500)
    assert _balance(shop) == 500


def test_refund_through_the_payments_service(tmp_path: Path) -> None:
    clock = TestClock(MARCH_1)
    log = EventLog()
    billing = Billing(
        f"sqlite:///{tmp_path / 'refund.db'}", clock=clock, plugins=[log], load_entrypoints=False
    )
    try:
        customer = billing.customers.create(
            {"external_id": "u1", "name": "Ada"}, idempotency_key="c"
        )
        product = billing.catalog.create_product(name="Membership", idempotency_key="p")
        price = billing.catalog.create_price(
            product_id=product.id,
            currency="USD",
            unit_amount=3100,
            recurring={"interval": "month"},
            idempotency_key="pr",
        )
        billing.payments.attach_payment_method(customer.id, "pm_card_visa", idempotency_key="pm")
        sub = billing.subscriptions.create(
            customer.id, [{"price_id": price.id}], idempotency_key="s"
        )
        assert billing.payments.collect_due().paid == 1
        (payment,) = billing.payments.list(customer_id=customer.id)
        assert payment.status is PaymentStatus.SUCCEEDED and payment.amount == 3100
        clock.set(datetime(2026, 3, 21, tzinfo=UTC))  # 11 of 31 days left: 11.00
        canceled = billing.subscriptions.cancel(
            sub.id, prorate=True, refund=True, idempotency_key="cancel-1"
        )
        assert canceled.status is SubscriptionStatus.CANCELED
        (note,) = billing.subscriptions.cancellation_credit_notes(sub.id)
        assert (note.total, note.refund_amount, note.credit_amount) == (1100, 1100, 0)
        (refund,) = billing.payments.list_refunds(payment.id)
        assert (refund.amount, refund.status, refund.credit_note_id) == (
            1100,
            RefundStatus.SUCCEEDED,
            note.id,
        )
        assert billing.payments.get(payment.id).amount_refunded == 1100
        assert billing.invoices.customer_balance(customer.id, "USD").amount == 0
        # A replay neither cancels nor refunds again.
        again = billing.subscriptions.cancel(
            sub.id, prorate=True, refund=True, idempotency_key="cancel-1"
        )
        assert again == canceled
        assert len(billing.payments.list_refunds(payment.id)) == 1
        assert "refund.succeeded" in log.types()
        with billing.storage.unit_of_work() as uow:
            notes = uow.credit_notes.list(customer_id=customer.id, limit=MAX_LIST_LIMIT)
        assert notes == [note]  # the refund used the cancellation's credit note
    finally:
        billing.close()
