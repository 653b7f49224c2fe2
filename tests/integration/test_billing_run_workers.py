"""Four worker processes share one billing run on PostgreSQL (FOR UPDATE SKIP LOCKED):
every subscription renews exactly once and invoice numbers stay unique and gap-free."""

from __future__ import annotations

import itertools
import multiprocessing
from collections import Counter
from datetime import UTC, datetime

import pytest
from subscription_support import billing_worker

from lms_billing.domain.customers import Customer
from lms_billing.domain.subscription_records import SubscriptionRecord
from lms_billing.domain.subscriptions import SubscriptionItem, activate, create_subscription
from lms_billing.storage import open_storage
from lms_billing.storage.base import MAX_LIST_LIMIT

START = datetime(2026, 1, 1, tzinfo=UTC)
RUN_AT = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
SUBSCRIPTIONS = 400
WORKERS = 4


def _seed(url: str) -> None:
    storage = open_storage(url, migrate=True)
    try:
        with storage.unit_of_work() as uow:
            customers = [
                Customer(external_id=f"u{n}", id=f"cus_{n:03d}", created_at=START)
                for n in range(40)
            ]
            for customer in customers:
                uow.customers.add(customer)
            for n in range(SUBSCRIPTIONS):
                item = SubscriptionItem(
                    id=f"si_{n:04d}",
                    price_id="price_monthly",
                    unit_amount=1000 + n,
                    currency="USD",
                    interval="month",
                )
                sub = create_subscription(
                    id=f"sub_{n:04d}",
                    customer_id=customers[n % len(customers)].id,
                    items=[item],
                    at=START,
                )
                uow.subscriptions.add(SubscriptionRecord(subscription=activate(sub, at=START)))
            uow.commit()
    finally:
        storage.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_four_processes_renew_every_subscription_exactly_once(postgres_url: str) -> None:
    _seed(postgres_url)
    spawn = multiprocessing.get_context("spawn")
    with spawn.Manager() as manager, spawn.Pool(WORKERS) as pool:
        start = manager.Barrier(WORKERS)  # every worker starts once all have imported
        results = pool.starmap(
            billing_worker,
            [
                (postgres_url, RUN_AT.isoformat(), f"worker-{n}", 20, start, 0.002)
                for n in range(WORKERS)
            ],
        )
    assert sum(r["renewed"] for r in results) == SUBSCRIPTIONS
    assert sum(r["claimed"] for r in results) == SUBSCRIPTIONS
    # The work was really shared: several workers billed, none billed what another did,
    # and together they billed every subscription.
    billed = [set(r["billed"]) for r in results]
    assert all(len(ids) == len(r["billed"]) for ids, r in zip(billed, results, strict=True))
    assert sum(1 for ids in billed if ids) >= 2, [len(ids) for ids in billed]
    assert all(not (a & b) for a, b in itertools.combinations(billed, 2))
    assert set().union(*billed) == {f"sub_{n:04d}" for n in range(SUBSCRIPTIONS)}
    assert [len(ids) for ids in billed] == [r["invoices_created"] for r in results]

    storage = open_storage(postgres_url)
    try:
        with storage.unit_of_work() as uow:
            invoices = []
            after: str | None = None
            while page := uow.invoices.list(limit=MAX_LIST_LIMIT, starting_after=after):
                invoices.extend(page)
                after = page[-1].id
            per_subscription = Counter(invoice.subscription_id for invoice in invoices)
            assert len(per_subscription) == SUBSCRIPTIONS
            assert set(per_subscription.values()) == {1}
            numbers = sorted(invoice.number or "" for invoice in invoices)
            assert numbers == [f"INV-2026-{n:06d}" for n in range(1, SUBSCRIPTIONS + 1)]
            assert all(
                invoice.total == 1000 + int(invoice.subscription_id[4:]) for invoice in invoices
            )  # type: ignore[index]
            renewed = uow.subscriptions.list(limit=MAX_LIST_LIMIT)
            assert {r.subscription.current_period_start for r in renewed} == {
                datetime(2026, 2, 1, tzinfo=UTC)
            }
            assert len(uow.billing_runs.list()) == WORKERS
    finally:
        storage.close()
    # Running again at the same instant finds nothing due.
    again = billing_worker(postgres_url, RUN_AT.isoformat(), "late-worker", 20)
    assert (again["claimed"], again["invoices_created"]) == (0, 0)
