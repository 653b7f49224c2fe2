"""Billing runs that come late or claim early: catch-up across a collection pause, a trial
notice that is not yet due, subscriptions far behind, and rows that make no progress."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from subscription_support import Shop, shop_on

from lms_billing.domain.invoices import InvoiceStatus
from lms_billing.domain.subscription_records import SubscriptionRecord
from lms_billing.domain.subscriptions import SubscriptionItem, activate, create_subscription
from lms_billing.services import billing_run

MARCH_1 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite"])
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shop]:
    yield from shop_on(request.param, tmp_path, start=MARCH_1)


def _statuses(shop: Shop, subscription_id: str) -> list[tuple[str, InvoiceStatus]]:
    return [(i.created_at.date().isoformat(), i.status) for i in shop.invoices(subscription_id)]


@pytest.mark.parametrize(
    ("behavior", "paused_status"),
    [
        ("void", InvoiceStatus.VOID),
        ("keep_as_draft", InvoiceStatus.DRAFT),
        ("mark_uncollectible", InvoiceStatus.UNCOLLECTIBLE),
    ],
)
def test_a_catch_up_run_honours_a_collection_pause_that_ended_meanwhile(
    shop: Shop, behavior: str, paused_status: InvoiceStatus
) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], idempotency_key="c"
    )
    shop.subscriptions.pause_collection(
        sub.id,
        behavior=behavior,
        resumes_at=datetime(2026, 4, 15, tzinfo=UTC),
        idempotency_key="p",
    )
    # One late run on May 2 instead of runs on Apr 1, Apr 16 and May 2: the Apr 1 period
    # started inside the pause, the May 1 period after it.
    shop.clock.set(datetime(2026, 5, 2, tzinfo=UTC))
    result = shop.subscriptions.run_billing()
    assert result.renewed == 2
    assert _statuses(shop, sub.id) == [
        ("2026-03-01", InvoiceStatus.PAID),
        ("2026-04-01", paused_status),
        ("2026-05-01", InvoiceStatus.PAID),
    ]
    after = shop.subscriptions.get(sub.id)
    assert after.pause_collection is None
    assert shop.log.types().count("customer.subscription.collection_resumed") == 1


def test_a_pause_ending_mid_period_is_cleared_by_the_run_after_it(shop: Shop) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], idempotency_key="c"
    )
    shop.subscriptions.pause_collection(
        sub.id, behavior="void", resumes_at=datetime(2026, 3, 10, tzinfo=UTC), idempotency_key="p"
    )
    shop.clock.set(datetime(2026, 3, 11, tzinfo=UTC))
    result = shop.subscriptions.run_billing()
    assert (result.claimed, result.renewed, result.invoices_created) == (1, 0, 0)
    assert shop.subscriptions.get(sub.id).pause_collection is None
    shop.clock.set(datetime(2026, 4, 1, tzinfo=UTC))
    shop.subscriptions.run_billing()
    assert shop.invoices(sub.id)[-1].status is InvoiceStatus.PAID


def test_an_early_claim_does_not_swallow_the_trial_will_end_notice(shop: Shop) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id,
        [{"price_id": shop.basic.id}],
        trial_period_days=30,
        default_payment_method="pm_card_visa",
        idempotency_key="t",
    )
    assert sub.trial_end is not None
    # A collection pause ending on Mar 5 makes the run of Mar 6 claim the subscription,
    # long before the notice is due (Mar 28).
    shop.subscriptions.pause_collection(
        sub.id, behavior="void", resumes_at=datetime(2026, 3, 5, tzinfo=UTC), idempotency_key="p"
    )
    shop.clock.set(datetime(2026, 3, 6, tzinfo=UTC))
    early = shop.subscriptions.run_billing()
    assert (early.claimed, early.notices_sent) == (1, 0)
    shop.clock.set(sub.trial_end - timedelta(days=2))
    inside = shop.subscriptions.run_billing()
    assert (inside.claimed, inside.notices_sent) == (1, 1)
    notices = [e for e in shop.log.events if e.type == "customer.subscription.trial_will_end"]
    assert [e.created_at for e in notices] == [sub.trial_end - timedelta(days=3)]
    assert shop.subscriptions.run_billing().notices_sent == 0  # announced once


def _daily_subscription(shop: Shop, n: int, start: datetime) -> str:
    item = SubscriptionItem(
        id=f"si_daily_{n}",
        price_id=f"price_daily_{n}",
        unit_amount=100,
        currency="USD",
        interval="day",
    )
    sub = create_subscription(
        id=f"sub_daily_{n}", customer_id=shop.customer.id, items=[item], at=start
    )
    with shop.billing.storage.unit_of_work() as uow:
        uow.subscriptions.add(SubscriptionRecord(subscription=activate(sub, at=start)))
        uow.commit()
    return sub.id


def test_subscriptions_far_behind_continue_in_later_batches(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With at most 3 periods per batch, the first subscription (10 days behind, claimed
    # first) is claimed again and again; the one behind it must still be renewed. The old
    # run remembered every claimed id and stopped at the first batch of only "seen" ones.
    monkeypatch.setattr(billing_run, "MAX_PERIODS_PER_RUN", 3)
    far = _daily_subscription(shop, 1, MARCH_1 - timedelta(days=10))
    near = _daily_subscription(shop, 2, MARCH_1 - timedelta(days=1, hours=1))
    result = shop.subscriptions.run_billing(MARCH_1, batch_size=1)
    assert shop.subscriptions.get(far).current_period_end > MARCH_1
    assert shop.subscriptions.get(near).current_period_end > MARCH_1
    assert len(shop.invoices(far)) == 10 and len(shop.invoices(near)) == 1
    assert result.renewed == 11 and result.stuck == 0
    assert shop.subscriptions.run_billing(MARCH_1).claimed == 0


def test_a_subscription_that_makes_no_progress_is_left_out_not_looped_on(
    shop: Shop, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    stuck = _daily_subscription(shop, 1, MARCH_1 - timedelta(days=3))
    fine = _daily_subscription(shop, 2, MARCH_1 - timedelta(days=2))
    renew = billing_run._Renewer.renew

    def broken(self: object, record: SubscriptionRecord, *args: object) -> SubscriptionRecord:
        if record.id == stuck:  # a bug that leaves one row exactly as it was
            return record
        return renew(self, record, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(billing_run._Renewer, "renew", broken)
    with caplog.at_level(logging.ERROR, logger="lms_billing.billing_run"):
        result = shop.subscriptions.run_billing(MARCH_1, batch_size=1)
    assert result.stuck == 1
    assert stuck in caplog.text
    assert len(shop.invoices(fine)) == 2 and shop.invoices(stuck) == []
    with shop.billing.storage.unit_of_work() as uow:
        (run,) = [r for r in uow.billing_runs.list() if r.id == result.run_id]
    assert run.stuck == 1
