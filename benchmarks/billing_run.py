"""Billing run throughput and memory, next to the floor: a raw bulk insert of its rows.

    python benchmarks/billing_run.py [-n 100000] [--batch-size 500] [--postgres-url URL]
                                     [--workers N]

Seeds N active monthly subscriptions that are all due (setup, not timed), then times one
full billing run in fresh child processes (``--workers``, default 1; each child resets its
RSS high-water mark before the run, so the peak printed is the run's own, not the seeder's)
and, on the same database, the floor: SQLAlchemy Core ``executemany`` of the same
number of invoice and invoice-line rows, ``--batch-size`` rows per transaction. Prints
invoices per second, the run's peak memory and the ratio run / floor (target: within 3x;
memory flat in N). Use a fresh, empty PostgreSQL database. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from lms_billing.domain.customers import Customer
from lms_billing.domain.subscription_records import SubscriptionRecord
from lms_billing.domain.subscriptions import SubscriptionItem, activate, create_subscription
from lms_billing.ids import new_id
from lms_billing.storage import open_storage
from lms_billing.storage.entities import CUSTOMERS
from lms_billing.storage.entities_subscriptions import SUBSCRIPTIONS
from lms_billing.storage.sqlalchemy import SQLAlchemyStorage
from lms_billing.storage.sqlalchemy.tables import customers
from lms_billing.storage.sqlalchemy.tables_invoicing import invoice_lines, invoices
from lms_billing.storage.sqlalchemy.tables_subscriptions import subscriptions

START = datetime(2026, 1, 1, tzinfo=UTC)
RUN_AT = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
SUBSCRIPTIONS_PER_CUSTOMER = 2
SEED_CHUNK = 5000


def _seed(url: str, count: int) -> None:
    storage = open_storage(url, migrate=True)
    assert isinstance(storage, SQLAlchemyStorage)
    item = SubscriptionItem(
        id="si_x", price_id="price_monthly", unit_amount=1900, currency="USD", interval="month"
    )
    with storage.engine.begin() as connection:
        for start in range(0, count, SEED_CHUNK):
            customer_rows: list[dict[str, Any]] = []
            subscription_rows: list[dict[str, Any]] = []
            for n in range(start, min(count, start + SEED_CHUNK)):
                if n % SUBSCRIPTIONS_PER_CUSTOMER == 0:
                    customer = Customer(external_id=f"u{n}", id=new_id("cus"), created_at=START)
                    customer_rows.append(
                        {
                            **CUSTOMERS.key_columns(customer),
                            "version": 1,
                            "data": CUSTOMERS.dump(customer),
                        }
                    )
                sub = create_subscription(
                    id=new_id("sub"),
                    customer_id=customer.id,
                    items=[item.model_copy(update={"id": new_id("si")})],
                    at=START,
                )
                record = SubscriptionRecord(subscription=activate(sub, at=START))
                subscription_rows.append(
                    {
                        **SUBSCRIPTIONS.key_columns(record),
                        "version": 1,
                        "data": SUBSCRIPTIONS.dump(record),
                    }
                )
            connection.execute(sa.insert(customers), customer_rows)
            connection.execute(sa.insert(subscriptions), subscription_rows)
    storage.close()


def _status_kib(field: str) -> int | None:
    """A ``/proc/self/status`` figure in KiB (``VmRSS``, ``VmHWM``); ``None`` off Linux."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> int:
    """Reset this process's RSS high-water mark to its current RSS and return that (KiB).

    ``getrusage().ru_maxrss`` cannot be used: a spawned child inherits the parent's maximum
    (the seeding process, which held every row), so it printed the seeder's peak. Linux
    resets ``VmHWM`` when ``5`` is written to ``/proc/self/clear_refs``; elsewhere the
    figure falls back to ``ru_maxrss`` (an upper bound)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as clear:
            clear.write("5")
    except OSError:
        pass
    current = _status_kib("VmRSS")
    return current if current is not None else _maxrss_kib()


def _peak_rss() -> int:
    """The RSS high-water mark since :func:`_reset_peak_rss` (KiB)."""
    peak = _status_kib("VmHWM")
    return peak if peak is not None else _maxrss_kib()


def _maxrss_kib() -> int:
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss // 1024 if sys.platform == "darwin" else maxrss  # bytes on macOS


def _run(url: str, batch_size: int, queue: Any) -> None:
    from lms_billing.clock import SystemClock
    from lms_billing.plugins.manager import PluginHost, get_plugin_manager
    from lms_billing.services._context import ServiceContext
    from lms_billing.services.billing_run import run_billing

    storage = open_storage(url)
    ctx = ServiceContext(
        storage=storage,
        plugins=PluginHost(get_plugin_manager(load_entrypoints=False)),
        clock=SystemClock(),
    )
    baseline = _reset_peak_rss()
    started = time.time()  # wall clock: comparable across worker processes
    result = run_billing(ctx, RUN_AT, batch_size=batch_size, worker_id=f"bench-{os.getpid()}")
    finished = time.time()
    peak = _peak_rss()
    storage.close()
    queue.put((started, finished, result.invoices_created, baseline, peak))


def _floor(url: str, count: int, batch_size: int) -> float:
    """Time a raw Core bulk insert of ``count`` invoices and lines into the same tables."""
    storage = open_storage(url)
    assert isinstance(storage, SQLAlchemyStorage)
    with storage.engine.connect() as connection:
        header, line = (
            connection.execute(sa.select(invoices.c.customer_id, invoices.c.data).limit(1)).one(),
            connection.execute(sa.select(invoice_lines.c.data).limit(1)).scalar_one(),
        )
        connection.rollback()
    customer_id, header_data = header
    elapsed = 0.0
    for start in range(0, count, batch_size):
        size = min(batch_size, count - start)
        ids = [new_id("in") for _ in range(size)]
        heads = [
            {
                "id": invoice_id,
                "customer_id": customer_id,
                "subscription_id": None,
                "status": "open",
                "number": f"FLOOR-{start + k:09d}",
                "currency": "USD",
                "total": 1900,
                "amount_due": 1900,
                "amount_paid": 0,
                "created_at": RUN_AT,
                "finalized_at": RUN_AT,
                "version": 1,
                "data": header_data,
            }
            for k, invoice_id in enumerate(ids)
        ]
        lines = [
            {
                "id": new_id("il"),
                "invoice_id": invoice_id,
                "position": 0,
                "amount": 1900,
                "currency": "USD",
                "data": line,
            }
            for invoice_id in ids
        ]
        began = time.perf_counter()
        with storage.engine.begin() as connection:
            connection.execute(sa.insert(invoices), heads)
            connection.execute(sa.insert(invoice_lines), lines)
        elapsed += time.perf_counter() - began
    storage.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000, help="subscriptions to renew")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--postgres-url", help="benchmark PostgreSQL instead of SQLite")
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes sharing the run (PostgreSQL)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.postgres_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        print(f"seeding {args.n:,} due subscriptions on {url.split(':', 1)[0]} ...", flush=True)
        _seed(url, args.n)
        spawn = multiprocessing.get_context("spawn")
        queue = spawn.Queue()
        children = [
            spawn.Process(target=_run, args=(url, args.batch_size, queue))
            for _ in range(args.workers)
        ]
        for child in children:
            child.start()
        reports = [queue.get() for _ in children]
        for child in children:
            child.join()
        elapsed = max(r[1] for r in reports) - min(r[0] for r in reports)
        created = sum(r[2] for r in reports)
        baseline, peak = max(r[3] for r in reports), max(r[4] for r in reports)
        growth = max(r[4] - r[3] for r in reports)
        floor = _floor(url, created, args.batch_size)
    rate = created / elapsed
    print(f"billing run: {created:,} invoices in {elapsed:.1f} s = {rate:,.0f} invoices/s")
    print(
        f"peak RSS per run process: {peak / 1024:.0f} MiB (at start {baseline / 1024:.0f} MiB, "
        f"growth during the run {growth / 1024:.1f} MiB)"
    )
    print(
        f"floor (Core executemany of the same rows): {floor:.1f} s = {created / floor:,.0f} rows/s"
    )
    print(f"ratio run / floor: {elapsed / floor:.1f}x")


if __name__ == "__main__":
    main()
