"""SubscriptionService: create, change, cancel, pause and preview, through storage."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from subscription_support import Shop, shop_on

from lms_billing.domain.invoices import InvoiceStatus
from lms_billing.domain.subscriptions import SubscriptionStatus
from lms_billing.errors import (
    IdempotencyKeyMismatchError,
    InvalidSubscriptionError,
    InvalidSubscriptionOperationError,
    NotFoundError,
)
from lms_billing.services.collection import NoopCollector


@pytest.fixture(params=["memory", "sqlite"])
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shop]:
    yield from shop_on(request.param, tmp_path)


def test_create_invoices_the_first_period_and_activates_when_paid(shop: Shop) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], idempotency_key="c1"
    )
    assert sub.status is SubscriptionStatus.ACTIVE
    assert [t.to_status for t in sub.history] == ["incomplete", "active"]
    (invoice,) = shop.invoices(sub.id)
    assert (invoice.status, invoice.total, invoice.billing_reason) == (
        InvoiceStatus.PAID,
        1000,
        "subscription_create",
    )
    assert invoice.number == "INV-2026-000001"
    assert shop.subscriptions.get(sub.id) == sub
    # A replay returns the first result and creates nothing new.
    again = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], idempotency_key="c1"
    )
    assert again == sub and len(shop.invoices()) == 1
    with pytest.raises(IdempotencyKeyMismatchError):
        shop.subscriptions.create(
            shop.customer.id, [{"price_id": shop.pro.id}], idempotency_key="c1"
        )


def test_without_payment_the_subscription_stays_incomplete(shop: Shop) -> None:
    shop.subscriptions.collector = NoopCollector()
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], idempotency_key="c1"
    )
    assert sub.status is SubscriptionStatus.INCOMPLETE
    assert shop.invoices(sub.id)[0].status is InvoiceStatus.OPEN
    # 23 hours later the billing run expires it and voids the unpaid first invoice.
    shop.clock.advance(hours=23)
    result = shop.subscriptions.run_billing()
    assert result.expired == 1
    assert shop.subscriptions.get(sub.id).status is SubscriptionStatus.INCOMPLETE_EXPIRED
    assert shop.invoices(sub.id)[0].status is InvoiceStatus.VOID


def test_trial_starts_without_an_invoice(shop: Shop) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id,
        [{"price_id": shop.basic.id}],
        trial_period_days=14,
        idempotency_key="t1",
    )
    assert sub.status is SubscriptionStatus.TRIALING
    assert sub.trial_end == shop.clock.now() + timedelta(days=14)
    assert shop.invoices(sub.id) == []


def test_graduated_seats_are_quoted_and_invoiced_with_the_seat_count(shop: Shop) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.seats.id, "quantity": 7}], idempotency_key="s1"
    )
    (line,) = shop.invoices(sub.id)[0].lines
    assert (line.amount, line.quantity, line.unit_amount) == (5 * 1500 + 2 * 1200, 7, None)


def test_coupon_and_promotion_code_become_subscription_discounts(shop: Shop) -> None:
    coupon = shop.billing.coupons.create_coupon(
        percent_off="50", duration="repeating", duration_in_months=2, idempotency_key="cp"
    )
    shop.billing.coupons.create_promotion_code(
        coupon_id=coupon.id, code="HALF", idempotency_key="code"
    )
    sub = shop.subscriptions.create(
        shop.customer.id,
        [{"price_id": shop.basic.id}],
        promotion_code="half",
        idempotency_key="c1",
    )
    (discount,) = shop.subscriptions.discounts(sub.id)
    assert discount.coupon.id == coupon.id and discount.end is not None
    assert shop.invoices(sub.id)[0].total == 500
    assert shop.billing.coupons.get_coupon(coupon.id).times_redeemed == 1
    with pytest.raises(NotFoundError):
        shop.subscriptions.create(
            shop.customer.id,
            [{"price_id": shop.basic.id}],
            promotion_code="NOPE",
            idempotency_key="c2",
        )


def test_non_recurring_prices_are_rejected(shop: Shop) -> None:
    one_time = shop.billing.catalog.create_price(
        product_id=shop.basic.product_id, currency="USD", unit_amount=500, idempotency_key="ot"
    )
    with pytest.raises(InvalidSubscriptionError):
        shop.subscriptions.create(
            shop.customer.id, [{"price_id": one_time.id}], idempotency_key="x"
        )


def test_upgrade_with_create_prorations_leaves_pending_items(shop: Shop) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], idempotency_key="c1"
    )
    shop.clock.set(datetime(2026, 2, 14, 9, 0, tzinfo=UTC))  # halfway through Jan 31 - Feb 28
    upgraded = shop.subscriptions.update_items(
        sub.id, [{"price_id": shop.pro.id}], idempotency_key="u1"
    )
    assert upgraded.items[0].id == sub.items[0].id and upgraded.items[0].unit_amount == 2000
    pending = shop.subscriptions.pending_items(sub.id)
    assert [p.item.amount for p in pending] == [-500, 1000]
    assert len(shop.invoices(sub.id)) == 1  # nothing invoiced yet


def test_always_invoice_invoices_the_prorations_now(shop: Shop) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], idempotency_key="c1"
    )
    shop.clock.set(datetime(2026, 2, 14, 9, 0, tzinfo=UTC))
    shop.subscriptions.update_items(
        sub.id,
        [{"price_id": shop.pro.id}],
        proration_behavior="always_invoice",
        idempotency_key="u1",
    )
    latest = shop.invoices(sub.id)[-1]
    assert latest.billing_reason == "subscription_update"
    assert [line.amount for line in latest.lines] == [-500, 1000]
    assert shop.subscriptions.pending_items(sub.id) == []


def test_proration_none_changes_items_only(shop: Shop) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id, "quantity": 2}], idempotency_key="c1"
    )
    shop.clock.advance(days=3)
    changed = shop.subscriptions.update_items(
        sub.id,
        [{"price_id": shop.basic.id, "quantity": 3}],
        proration_behavior="none",
        idempotency_key="u1",
    )
    assert changed.items[0].quantity == 3
    assert shop.subscriptions.pending_items(sub.id) == []


def test_interval_change_resets_the_cycle_and_invoices_now(shop: Shop) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], idempotency_key="c1"
    )
    shop.clock.set(datetime(2026, 2, 14, 9, 0, tzinfo=UTC))
    yearly = shop.subscriptions.update_items(
        sub.id, [{"price_id": shop.yearly.id}], idempotency_key="u1"
    )
    assert yearly.current_period_start == shop.clock.now()
    assert yearly.current_period_end == datetime(2027, 2, 14, 9, 0, tzinfo=UTC)
    latest = shop.invoices(sub.id)[-1]
    assert sorted(line.amount for line in latest.lines) == [-500, 10000]


def test_cancel_now_with_proration_credits_the_balance(shop: Shop) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], idempotency_key="c1"
    )
    shop.clock.set(datetime(2026, 2, 14, 9, 0, tzinfo=UTC))
    canceled = shop.subscriptions.cancel(sub.id, prorate=True, idempotency_key="x1")
    assert canceled.status is SubscriptionStatus.CANCELED
    balance = shop.billing.invoices.customer_balance(shop.customer.id, "USD")
    assert balance.amount == 5  # USD 5.00 for half of the period
    with pytest.raises(InvalidSubscriptionOperationError):
        shop.subscriptions.update_items(sub.id, [{"price_id": shop.pro.id}], idempotency_key="u")


def test_cancel_at_period_end_and_resume_before_it(shop: Shop) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], idempotency_key="c1"
    )
    scheduled = shop.subscriptions.cancel_at_period_end(sub.id, idempotency_key="e1")
    assert scheduled.cancel_at_period_end and scheduled.status is SubscriptionStatus.ACTIVE
    resumed = shop.subscriptions.resume(sub.id, idempotency_key="r1")
    assert not resumed.cancel_at_period_end
    with pytest.raises(InvalidSubscriptionOperationError):
        shop.subscriptions.resume(sub.id, idempotency_key="r2")


def test_pause_and_resume_collection(shop: Shop) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], idempotency_key="c1"
    )
    paused = shop.subscriptions.pause_collection(
        sub.id, behavior="keep_as_draft", idempotency_key="p1"
    )
    assert paused.pause_collection is not None
    assert paused.pause_collection.behavior == "keep_as_draft"
    again = shop.subscriptions.resume_collection(sub.id, idempotency_key="p2")
    assert again.pause_collection is None


def test_preview_upcoming_invoice_writes_nothing(shop: Shop) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], idempotency_key="c1"
    )
    shop.clock.set(datetime(2026, 2, 14, 9, 0, tzinfo=UTC))
    with shop.billing.storage.unit_of_work() as uow:
        before = (uow.subscriptions.get(sub.id), uow.subscriptions.version(sub.id))
    preview = shop.subscriptions.preview_upcoming_invoice(sub.id, items=[{"price_id": shop.pro.id}])
    assert preview is not None
    assert [line.amount for line in preview.lines] == [2000, -500, 1000]
    plain = shop.subscriptions.preview_upcoming_invoice(sub.id)
    assert plain is not None and plain.total == 1000
    with shop.billing.storage.unit_of_work() as uow:
        after = (uow.subscriptions.get(sub.id), uow.subscriptions.version(sub.id))
    assert after == before
    assert shop.subscriptions.pending_items(sub.id) == [] and len(shop.invoices()) == 1


def test_list_filters_by_customer_and_status(shop: Shop) -> None:
    other = shop.new_customer("learner-2")
    first = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], idempotency_key="a"
    )
    shop.subscriptions.create(other.id, [{"price_id": shop.basic.id}], idempotency_key="b")
    trial = shop.subscriptions.create(
        other.id, [{"price_id": shop.pro.id}], trial_period_days=7, idempotency_key="c"
    )
    assert [s.id for s in shop.subscriptions.list(customer_id=shop.customer.id)] == [first.id]
    assert [s.id for s in shop.subscriptions.list(status="trialing")] == [trial.id]
    assert len(shop.subscriptions.list()) == 3
    assert any(t == "customer.subscription.created" for t in shop.log.types())


def test_calendar_billing_prorates_the_first_period_to_the_1st(shop: Shop) -> None:
    shop.clock.set(datetime(2026, 2, 15, 0, 0, tzinfo=UTC))  # 14 of February's 28 days left
    sub = shop.subscriptions.create(
        shop.customer.id,
        [{"price_id": shop.pro.id}],
        billing_mode="calendar",
        idempotency_key="cal",
    )
    assert sub.current_period_end == datetime(2026, 3, 1, tzinfo=UTC)
    (line,) = shop.invoices(sub.id)[0].lines
    assert (line.amount, line.proration, line.unit_amount) == (1000, True, None)
    shop.clock.set(sub.current_period_end)
    shop.subscriptions.run_billing()
    assert shop.invoices(sub.id)[-1].total == 2000


def test_a_first_invoice_paid_by_hand_activates_instead_of_expiring(shop: Shop) -> None:
    shop.subscriptions.collector = NoopCollector()
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], idempotency_key="c1"
    )
    (invoice,) = shop.invoices(sub.id)
    shop.billing.invoices.pay(
        invoice.id, invoice.amount_due, payment_reference="bank-1", idempotency_key="pay-1"
    )
    shop.clock.advance(hours=23)
    result = shop.subscriptions.run_billing()
    assert result.expired == 0
    assert shop.subscriptions.get(sub.id).status is SubscriptionStatus.ACTIVE
