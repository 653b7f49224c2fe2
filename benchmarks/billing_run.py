"""Billing run throughput and memory, next to the floor: a raw bulk insert of its rows.

    python benchmarks/billing_run.py [-n 100000] [--batch-size 500] [--postgres-url URL]
                                     [--workers N] [--bounds]

Seeds N active monthly subscriptions that are all due (setup, not timed), then times one
full billing run in fresh child processes (``--workers``, default 1; each child resets its
RSS high-water mark before the run, so the peak printed is the run's own, not the seeder's)
and, on the same database, the floor: SQLAlchemy Core ``executemany`` of the rows the run
inserted (the same invoice and line rows, JSON documents bound as text as the run binds
them), ``--batch-size`` invoices per transaction as in the run. Prints
invoices per second, the run's peak memory and the ratio run / floor (target: within 3x;
memory flat in N). ``--bounds`` also prints what the run's SQL alone and the models'
decoding and encoding alone cost next to the floor (``billing_run_bounds.py``). Use a fresh,
empty PostgreSQL database. Nothing here asserts a time.
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
from billing_run_bounds import HEAD_COLUMNS, codec_bound, run_documents, sql_bound

from lms_billing.domain.customers import Customer
from lms_billing.domain.subscription_records import SubscriptionRecord
from lms_billing.domain.subscriptions import SubscriptionItem, activate, create_subscription
from lms_billing.ids import new_id
from lms_billing.storage import open_storage
from lms_billing.storage.entities import CUSTOMERS
from lms_billing.storage.entities_subscriptions import SUBSCRIPTIONS
from lms_billing.storage.sqlalchemy import SQLAlchemyStorage
from lms_billing.storage.sqlalchemy.repositories_subscriptions import _json_text_param
from lms_billing.storage.sqlalchemy.tables import customers
from lms_billing.storage.sqlalchemy.tables_invoicing import invoice_lines, invoices
from lms_billing.storage.sqlalchemy.tables_subscriptions import subscriptions

START = datetime(2026, 1, 1, tzinfo=UTC)
RUN_AT = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
NEXT_DUE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # after every renewed period's end (--bounds)
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


def _floor(url: str, batch_size: int) -> tuple[float, int, int]:
    """Time a raw Core bulk insert of the rows the run inserted, into the same tables.

    The same rows: one invoice row per run invoice with its key columns (customer,
    subscription, status, amounts, dates) and one line row per run line, with the run's
    JSON documents (one invoice's and one line's, as text: the run encodes JSON before it
    binds it too); ``batch_size`` invoices and their lines per transaction, one
    ``executemany`` per table, as the run does. Reading the rows to copy is not timed.
    Returns the seconds and the invoice and line counts."""
    storage = open_storage(url)
    assert isinstance(storage, SQLAlchemyStorage)
    head_columns = HEAD_COLUMNS
    line_columns = [invoice_lines.c.position, invoice_lines.c.amount, invoice_lines.c.currency]
    with storage.engine.connect() as connection:
        run_ids, heads = [], []
        query = sa.select(invoices.c.id, *head_columns).order_by(invoices.c.id)
        for invoice_id, *values in connection.execute(query):
            run_ids.append(invoice_id)
            heads.append(dict(zip([c.key for c in head_columns], values, strict=True)))
        lines: dict[str, list[dict[str, Any]]] = {}
        query = sa.select(invoice_lines.c.invoice_id, *line_columns)
        for invoice_id, *values in connection.execute(query):
            line = dict(zip([c.key for c in line_columns], values, strict=True))
            lines.setdefault(invoice_id, []).append(line)
        header_data, line_data = run_documents(connection)
        connection.rollback()
    line_groups = [lines.get(invoice_id, []) for invoice_id in run_ids]
    del lines, run_ids
    elapsed, lines_inserted = 0.0, 0
    for start in range(0, len(heads), batch_size):
        chunk = heads[start : start + batch_size]
        ids = [new_id("in") for _ in chunk]
        head_rows = [
            {
                **row,
                "id": invoice_id,
                "number": f"FLOOR-{start + k:09d}",
                "version": 1,
                "data_json": header_data,
            }
            for k, (invoice_id, row) in enumerate(zip(ids, chunk, strict=True))
        ]
        groups = line_groups[start : start + batch_size]
        line_rows = [
            {**line, "id": new_id("il"), "invoice_id": invoice_id, "data_json": line_data}
            for invoice_id, group in zip(ids, groups, strict=True)
            for line in group
        ]
        lines_inserted += len(line_rows)
        began = time.perf_counter()
        with storage.engine.begin() as connection:
            head_data = _json_text_param(connection, "data_json", invoices.c.data)
            connection.execute(sa.insert(invoices).values(data=head_data), head_rows)
            if line_rows:
                data = _json_text_param(connection, "data_json", invoice_lines.c.data)
                connection.execute(sa.insert(invoice_lines).values(data=data), line_rows)
        elapsed += time.perf_counter() - began
    storage.close()
    return elapsed, len(heads), lines_inserted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100_000, help="subscriptions to renew")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--postgres-url", help="benchmark PostgreSQL instead of SQLite")
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes sharing the run (PostgreSQL)"
    )
    parser.add_argument(
        "--bounds",
        action="store_true",
        help="also time the run's SQL alone and the models' decoding and encoding alone",
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
        floor, floor_invoices, floor_lines = _floor(url, args.batch_size)
        if args.bounds:
            sql, replayed = sql_bound(url, args.batch_size, NEXT_DUE)
            codec, decoded = codec_bound(url)
    rate = created / elapsed
    print(f"billing run: {created:,} invoices in {elapsed:.1f} s = {rate:,.0f} invoices/s")
    print(
        f"peak RSS per run process: {peak / 1024:.0f} MiB (at start {baseline / 1024:.0f} MiB, "
        f"growth during the run {growth / 1024:.1f} MiB)"
    )
    print(
        f"floor (Core executemany of the same {floor_invoices:,} invoice and {floor_lines:,} "
        f"line rows): {floor:.1f} s = {floor_invoices / floor:,.0f} invoices/s"
    )
    print(f"ratio run / floor: {elapsed / floor:.1f}x")
    if args.bounds:
        print(
            f"bound, SQL alone (the run's statements over {replayed:,} subscriptions, "
            f"documents prebuilt): {sql:.1f} s = {sql / floor:.1f}x floor"
        )
        print(
            f"bound, models alone (decoding and encoding the documents of {decoded:,} "
            f"renewals): {codec:.1f} s = {codec / floor:.1f}x floor"
        )
        together = f"together {(sql + codec) / floor:.1f}x floor"
        if args.workers == 1:
            print(
                f"{together}: the least one worker on these models and this storage costs; "
                f"the renewal logic gets the other {max(0.0, elapsed - sql - codec):.1f} s"
            )
        else:  # the bounds are one process's work; the workers split the run's
            print(f"{together} in one process; {args.workers} workers share the run")


if __name__ == "__main__":
    main()
