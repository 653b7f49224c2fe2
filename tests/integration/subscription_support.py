"""Shared builders for the subscription integration tests (imported by module name)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lms_billing import Billing
from lms_billing.clock import TestClock
from lms_billing.domain.catalog import Price
from lms_billing.domain.customers import Customer
from lms_billing.domain.events import Event
from lms_billing.domain.invoices import Invoice
from lms_billing.domain.subscriptions import Subscription
from lms_billing.hookspecs import hookimpl
from lms_billing.services._context import ServiceContext
from lms_billing.services.collection import (
    CollectionOutcome,
    CollectionResult,
    Collector,
    OutOfBandCollector,
)
from lms_billing.services.subscriptions import SubscriptionService
from lms_billing.storage.base import MAX_LIST_LIMIT


class EventLog:
    """A test plugin recording every emitted event."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    @hookimpl
    def lms_billing_event(self, event: Event) -> None:
        self.events.append(event)

    def types(self) -> list[str]:
        return [event.type for event in self.events]


@dataclass
class Shop:
    billing: Billing
    clock: TestClock
    subscriptions: SubscriptionService
    customer: Customer
    basic: Price  # USD 10.00 / month
    pro: Price  # USD 20.00 / month
    yearly: Price  # USD 100.00 / year
    seats: Price  # graduated seats / month: 1-5 at 15.00, then 12.00
    log: EventLog
    keys: list[int] = field(default_factory=lambda: [0])

    def key(self, label: str = "k") -> str:
        self.keys[0] += 1
        return f"{label}-{self.keys[0]}"

    def invoices(self, subscription_id: str | None = None) -> list[Invoice]:
        with self.billing.storage.unit_of_work() as uow:
            found = uow.invoices.list(subscription_id=subscription_id, limit=MAX_LIST_LIMIT)
        return sorted(found, key=lambda invoice: (invoice.created_at, invoice.id))

    def new_customer(self, external_id: str) -> Customer:
        return self.billing.customers.create(
            {"external_id": external_id, "name": external_id.title()},
            idempotency_key=f"customer:{external_id}",
        )


def make_shop(
    storage_url: str = "memory://",
    *,
    start: datetime = datetime(2026, 1, 31, 9, 0, tzinfo=UTC),
    collector: Collector | None = None,
) -> Shop:
    clock = TestClock(start)
    log = EventLog()
    billing = Billing(storage_url, clock=clock, plugins=[log], load_entrypoints=False)
    ctx = ServiceContext(
        storage=billing.storage, plugins=billing.plugins, clock=clock, settings=billing.settings
    )
    service = SubscriptionService(ctx, collector=collector or OutOfBandCollector())
    customer = billing.customers.create(
        {"external_id": "learner-1", "name": "Ada Lovelace", "email": "ada@example.org"},
        idempotency_key="shop:customer",
    )
    course = billing.catalog.create_product(name="All-access", idempotency_key="shop:p1")
    monthly: dict[str, Any] = {"interval": "month"}
    basic = billing.catalog.create_price(
        product_id=course.id,
        currency="USD",
        scheme="per_unit",
        unit_amount=1000,
        recurring=monthly,
        idempotency_key="shop:basic",
    )
    pro = billing.catalog.create_price(
        product_id=course.id,
        currency="USD",
        scheme="per_unit",
        unit_amount=2000,
        recurring=monthly,
        idempotency_key="shop:pro",
    )
    yearly = billing.catalog.create_price(
        product_id=course.id,
        currency="USD",
        unit_amount=10000,
        recurring={"interval": "year"},
        idempotency_key="shop:yearly",
    )
    seats = billing.catalog.create_price(
        product_id=course.id,
        currency="USD",
        scheme="graduated",
        tiers=[{"up_to": 5, "unit_amount": 1500}, {"up_to": None, "unit_amount": 1200}],
        recurring=monthly,
        idempotency_key="shop:seats",
    )
    return Shop(billing, clock, service, customer, basic, pro, yearly, seats, log)


def seed_monthly_subscriptions(storage_url: str, count: int, *, start: datetime) -> None:
    """``count`` monthly subscriptions of one customer started at ``start`` (so due a month
    later), written to ``storage_url`` and closed: for tests of the command line."""
    shop = make_shop(storage_url, start=start)
    for n in range(count):
        shop.subscriptions.create(
            shop.customer.id, [{"price_id": shop.basic.id}], idempotency_key=f"s{n}"
        )
    shop.billing.close()


def shop_on(backend: str, tmp_path: Path, **options: Any) -> Iterator[Shop]:
    """A ``shop`` fixture's body: a :func:`make_shop` on ``"memory"`` or a SQLite file in
    ``tmp_path`` (``"sqlite"``), closed after the test::

        @pytest.fixture(params=["memory", "sqlite"])
        def shop(request, tmp_path):
            yield from shop_on(request.param, tmp_path, start=MARCH_1)
    """
    url = "memory://" if backend == "memory" else f"sqlite:///{tmp_path / 'shop.db'}"
    built = make_shop(url, **options)
    yield built
    built.billing.close()


class DecliningCollector:
    """Every collection attempt fails (a declined renewal)."""

    def collect(
        self, invoice: Invoice, subscription: Subscription, now: datetime
    ) -> CollectionResult:
        return CollectionResult(invoice, CollectionOutcome.FAILED)


class RecordingCollector:
    """Attempts nothing (like ``NoopCollector``) but records which subscriptions it saw,
    optionally taking ``delay`` seconds per invoice so concurrent workers interleave."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.subscription_ids: list[str] = []

    def collect(
        self, invoice: Invoice, subscription: Subscription, now: datetime
    ) -> CollectionResult:
        self.subscription_ids.append(subscription.id)
        if self.delay:
            time.sleep(self.delay)
        return CollectionResult(invoice, CollectionOutcome.PENDING)


def billing_worker(
    url: str,
    at_iso: str,
    worker_id: str,
    batch_size: int,
    start: Any = None,
    delay: float = 0.0,
) -> dict[str, Any]:
    """One worker process of a shared billing run (a spawn target: top-level, picklable).

    Returns the run's counts plus ``billed``: the subscriptions this worker invoiced (seen by
    its collector). ``start`` (a ``multiprocessing`` barrier proxy) makes every worker begin
    at once, after its imports; ``delay`` slows each invoice so batches interleave.
    """
    from lms_billing.clock import SystemClock
    from lms_billing.plugins.manager import PluginHost, get_plugin_manager
    from lms_billing.services.billing_run import run_billing
    from lms_billing.storage import open_storage

    storage = open_storage(url)
    try:
        ctx = ServiceContext(
            storage=storage,
            plugins=PluginHost(get_plugin_manager(load_entrypoints=False)),
            clock=SystemClock(),
        )
        collector = RecordingCollector(delay)
        if start is not None:
            start.wait()
        result = run_billing(
            ctx,
            datetime.fromisoformat(at_iso),
            batch_size=batch_size,
            worker_id=worker_id,
            collector=collector,
        )
        return {**result.model_dump(mode="json"), "billed": collector.subscription_ids}
    finally:
        storage.close()
