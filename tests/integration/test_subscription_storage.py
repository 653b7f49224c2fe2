"""Subscription repositories behave alike on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from lms_billing.domain.customers import Customer
from lms_billing.domain.proration import ProrationItem
from lms_billing.domain.subscription_records import (
    BillingRun,
    PendingInvoiceItem,
    SubscriptionRecord,
)
from lms_billing.domain.subscriptions import (
    SubscriptionItem,
    SubscriptionStatus,
    activate,
    create_subscription,
)
from lms_billing.errors import StaleVersionError
from lms_billing.storage.base import Storage

START = datetime(2026, 1, 31, tzinfo=UTC)


def _customer(storage: Storage, external_id: str = "u1") -> str:
    customer = Customer(external_id=external_id, id=f"cus_{external_id}", created_at=START)
    with storage.unit_of_work() as uow:
        uow.customers.add(customer)
        uow.commit()
    return customer.id


def _record(sub_id: str, customer_id: str, *, at: datetime = START) -> SubscriptionRecord:
    item = SubscriptionItem(
        id=f"si_{sub_id}", price_id="price_m", unit_amount=1000, currency="USD", interval="month"
    )
    sub = create_subscription(id=sub_id, customer_id=customer_id, items=[item], at=at)
    return SubscriptionRecord(subscription=activate(sub, at=at))


def test_add_get_update_and_list(storage: Storage) -> None:
    customer_id = _customer(storage)
    record = _record("sub_a", customer_id)
    with storage.unit_of_work() as uow:
        uow.subscriptions.add(record)
        uow.commit()
    with storage.unit_of_work() as uow:
        loaded = uow.subscriptions.get("sub_a")
        assert loaded == record
        assert loaded.next_action_at == datetime(2026, 2, 28, tzinfo=UTC)
        changed = loaded.model_copy(update={"trial_notice_sent": True})
        assert uow.subscriptions.update(changed) == 2
        uow.commit()
    with storage.unit_of_work() as uow:
        listed = uow.subscriptions.list(customer_id=customer_id, status=SubscriptionStatus.ACTIVE)
        assert [r.id for r in listed] == ["sub_a"]
        assert uow.subscriptions.list(status=SubscriptionStatus.CANCELED) == []
        assert uow.subscriptions.get("sub_a").trial_notice_sent


def test_claim_due_returns_due_records_in_order_up_to_limit(storage: Storage) -> None:
    customer_id = _customer(storage)
    with storage.unit_of_work() as uow:
        for n, day in enumerate((3, 1, 2, 20)):
            at = datetime(2026, 1, day, tzinfo=UTC)
            uow.subscriptions.add(_record(f"sub_{n}", customer_id, at=at))
        uow.commit()
    with storage.unit_of_work() as uow:
        due = uow.subscriptions.claim_due(datetime(2026, 2, 10, tzinfo=UTC), 2)
        assert [r.id for r in due] == ["sub_1", "sub_2"]
        again = uow.subscriptions.claim_due(datetime(2026, 2, 10, tzinfo=UTC), 10)
        assert [r.id for r in again] == ["sub_1", "sub_2", "sub_0"]  # sub_3 is not due yet


def test_update_many_saves_a_batch_and_detects_stale_versions(storage: Storage) -> None:
    customer_id = _customer(storage)
    with storage.unit_of_work() as uow:
        for n in range(3):
            uow.subscriptions.add(_record(f"sub_{n}", customer_id))
        uow.commit()
    later = START + timedelta(days=40)
    with storage.unit_of_work() as uow:
        batch = uow.subscriptions.claim_due(later, 10)
        uow.subscriptions.update_many(
            [r.model_copy(update={"trial_notice_sent": True}) for r in batch]
        )
        uow.commit()
    with storage.unit_of_work() as uow:
        assert all(uow.subscriptions.get(f"sub_{n}").trial_notice_sent for n in range(3))
        assert uow.subscriptions.version("sub_0") == 2
        stale = uow.subscriptions.get("sub_0")
    with storage.unit_of_work() as uow:
        uow.subscriptions.update(uow.subscriptions.get("sub_0"))
        uow.commit()
    with storage.unit_of_work() as uow, pytest.raises(StaleVersionError):
        uow.subscriptions.update(stale, expected_version=2)


def test_pending_items_are_grouped_by_subscription_and_deleted(storage: Storage) -> None:
    customer_id = _customer(storage)
    with storage.unit_of_work() as uow:
        uow.subscriptions.add(_record("sub_a", customer_id))
        uow.subscriptions.add(_record("sub_b", customer_id))
        for n, owner in enumerate(("sub_a", "sub_b", "sub_a")):
            proration = ProrationItem(
                description="Remaining time",
                amount=100 * (n + 1),
                currency="USD",
                period_start=START,
                period_end=START + timedelta(days=1),
                price_id="price_m",
                quantity=1,
            )
            pending = PendingInvoiceItem(
                id=f"pii_{n}",
                subscription_id=owner,
                customer_id=customer_id,
                item=proration,
                created_at=START,
            )
            uow.pending_items.add(pending)
        uow.commit()
    with storage.unit_of_work() as uow:
        found = uow.pending_items.for_subscriptions(["sub_a", "sub_b", "sub_x"])
        assert {k: [i.id for i in v] for k, v in found.items()} == {
            "sub_a": ["pii_0", "pii_2"],
            "sub_b": ["pii_1"],
        }
        uow.pending_items.delete(["pii_0", "pii_1"])
        uow.commit()
    with storage.unit_of_work() as uow:
        left = uow.pending_items.for_subscriptions(["sub_a", "sub_b"])
        assert {k: [i.id for i in v] for k, v in left.items()} == {"sub_a": ["pii_2"]}


def test_billing_runs_are_recorded(storage: Storage) -> None:
    run = BillingRun(id="brun_1", at=START, worker="w1", started_at=START)
    with storage.unit_of_work() as uow:
        uow.billing_runs.add(run)
        uow.commit()
    with storage.unit_of_work() as uow:
        done = uow.billing_runs.get("brun_1").model_copy(
            update={"renewed": 3, "finished_at": START}
        )
        uow.billing_runs.update(done)
        uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.billing_runs.list() == [done]


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_storage(request: pytest.FixtureRequest) -> Iterator[Storage]:
    """Backends where two units of work may be open at once (SQLite allows one writer)."""
    from lms_billing.storage import open_storage
    from lms_billing.storage.memory import MemoryStorage

    if request.param == "memory":
        opened: Storage = MemoryStorage()
    else:
        opened = open_storage(request.getfixturevalue("postgres_url"), migrate=True)
    yield opened
    opened.close()


def test_claimed_rows_are_skipped_by_other_units_of_work(shared_storage: Storage) -> None:
    customer_id = _customer(shared_storage)
    with shared_storage.unit_of_work() as uow:
        for n in range(3):
            uow.subscriptions.add(_record(f"sub_{n}", customer_id))
        uow.commit()
    later = START + timedelta(days=40)
    with shared_storage.unit_of_work() as first, shared_storage.unit_of_work() as second:
        assert [r.id for r in first.subscriptions.claim_due(later, 2)] == ["sub_0", "sub_1"]
        assert [r.id for r in second.subscriptions.claim_due(later, 10)] == ["sub_2"]
    # Both ended without committing: the claims are gone, everything is due again.
    with shared_storage.unit_of_work() as uow:
        assert len(uow.subscriptions.claim_due(later, 10)) == 3


def test_a_batch_with_one_stale_row_writes_nothing(storage_url: str) -> None:
    # update_many saves a batch with one executemany: a row changed since the claim (its
    # version moved on) fails the whole batch and the unit of work rolls back.
    from lms_billing.storage import open_storage
    from lms_billing.storage.sqlalchemy import SQLAlchemyStorage
    from lms_billing.storage.sqlalchemy.storage import SQLAlchemyUnitOfWork
    from lms_billing.storage.sqlalchemy.tables_subscriptions import subscriptions

    storage = open_storage(storage_url, migrate=True)
    assert isinstance(storage, SQLAlchemyStorage)
    try:
        customer_id = _customer(storage)
        with storage.unit_of_work() as uow:
            for n in range(3):
                uow.subscriptions.add(_record(f"sub_{n}", customer_id))
            uow.commit()
        later = START + timedelta(days=40)
        with storage.unit_of_work() as uow, pytest.raises(StaleVersionError):
            assert isinstance(uow, SQLAlchemyUnitOfWork)
            batch = uow.subscriptions.claim_due(later, 10)
            bump = subscriptions.update().where(subscriptions.c.id == "sub_1")
            uow.connection.execute(bump.values(version=subscriptions.c.version + 1))
            uow.subscriptions.update_many(
                [r.model_copy(update={"trial_notice_sent": True}) for r in batch]
            )
        with storage.unit_of_work() as uow:
            assert [uow.subscriptions.version(f"sub_{n}") for n in range(3)] == [1, 1, 1]
            assert not any(uow.subscriptions.get(f"sub_{n}").trial_notice_sent for n in range(3))
            # Versions as read: the batch saves, each row one version on.
            batch = uow.subscriptions.claim_due(later, 10)
            uow.subscriptions.update_many(
                [r.model_copy(update={"trial_notice_sent": True}) for r in batch]
            )
            uow.commit()
        with storage.unit_of_work() as uow:
            assert [uow.subscriptions.version(f"sub_{n}") for n in range(3)] == [2, 2, 2]
            assert all(uow.subscriptions.get(f"sub_{n}").trial_notice_sent for n in range(3))
            assert [r.id for r in uow.subscriptions.claim_due(later, 10)] == [
                "sub_0",
                "sub_1",
                "sub_2",
            ]
    finally:
        storage.close()
