"""Lower bounds for a billing run, next to its floor: what its SQL and its documents cost alone.

Used by ``billing_run.py --bounds`` after the run and the floor, on the same database:

- **SQL bound**: the run's statements replayed batch by batch with every document prebuilt
  (no domain code, no pydantic): claim the due subscriptions in claim order (``FOR UPDATE
  SKIP LOCKED`` on PostgreSQL), read their customers and pending items, lock and sum the
  balances, rewrite each subscription row (the run's own document; next action moved on so
  it leaves the due set), reserve the numbers, insert the invoice and line rows (the run's
  documents, as the floor does) and commit.
- **Codec bound**: decoding what the run reads (each subscription and customer document,
  through the models' ``load_json`` as storage does) and encoding what it writes (each
  subscription, invoice header and line, through ``dump_json``), with no SQL and nothing
  else: the models' own validation and serialization.

Renewal code that keeps this storage and these models cannot be faster than the sum of the
two; the renewal logic (periods, lines, coupons, tax, totals, events) gets what is left of
the run's time. Reading the rows to replay or to decode is not timed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel

from lms_billing.domain.invoices import Invoice
from lms_billing.ids import new_id
from lms_billing.storage import open_storage
from lms_billing.storage.entities import CUSTOMERS, EntitySpec
from lms_billing.storage.entities_subscriptions import SUBSCRIPTIONS
from lms_billing.storage.sqlalchemy import SQLAlchemyStorage
from lms_billing.storage.sqlalchemy.repositories_invoicing import SQL_INVOICES
from lms_billing.storage.sqlalchemy.repositories_subscriptions import (
    SqlBillingRunRepository,
    _among,
    _json_text,
    _json_text_param,
    batch_update_statement,
    claim_query,
)
from lms_billing.storage.sqlalchemy.tables import customers
from lms_billing.storage.sqlalchemy.tables_invoicing import invoice_lines, invoices
from lms_billing.storage.sqlalchemy.tables_subscriptions import (
    pending_invoice_items,
    subscriptions,
)

M = TypeVar("M", bound=BaseModel)

REPLAY_SERIES = "bounds-replay"  # its own counter: the run's invoice series is left alone


# An invoice row's key columns: what the floor and the replay copy from the run's rows.
HEAD_COLUMNS = [c for c in invoices.c if c.key not in ("id", "number", "data")]


def run_documents(connection: sa.Connection) -> tuple[str, str]:
    """One run invoice's header document and one of its lines', as the JSON text the run
    binds: compact, in the stored key order (what pydantic's ``model_dump_json`` writes)."""
    header, line = (
        connection.execute(sa.select(table.c.data).limit(1)).scalar_one()
        for table in (invoices, invoice_lines)
    )
    return _as_text(header), _as_text(line)


def _as_text(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def _sample_documents(connection: sa.Connection) -> tuple[dict[str, Any], str, str]:
    """One run invoice's key columns, and the run's header and line documents."""
    values = connection.execute(sa.select(*HEAD_COLUMNS).limit(1)).one()
    header, line = run_documents(connection)
    return dict(zip([c.key for c in HEAD_COLUMNS], values, strict=True)), header, line


def sql_bound(url: str, batch_size: int, due_at: datetime) -> tuple[float, int]:
    """Seconds the run's statements take replayed over every subscription due at ``due_at``
    (the run left them all due at their next period end), and how many were replayed.

    As in the floor, only the statements and commits are timed: building the parameter rows
    (ids, dicts) in Python is not."""
    storage = open_storage(url)
    assert isinstance(storage, SQLAlchemyStorage)
    with storage.engine.connect() as connection:
        head, header_data, line_data = _sample_documents(connection)
        connection.rollback()
    moved_on = due_at + timedelta(days=31)
    table = subscriptions
    elapsed, replayed = 0.0, 0
    while True:
        began = time.perf_counter()
        with storage.engine.begin() as connection:
            claim = claim_query(connection, due_at, batch_size).add_columns(table.c.customer_id)
            rows = connection.execute(claim).all()
            if not rows:
                break
            ids = [row.id for row in rows]
            customer_ids = sorted({row.customer_id for row in rows})
            connection.execute(
                sa.select(pending_invoice_items.c.id, pending_invoice_items.c.data).where(
                    _among(connection, pending_invoice_items.c.subscription_id, ids)
                )
            ).all()
            connection.execute(
                sa.select(customers.c.id, _json_text(connection, customers.c.data)).where(
                    _among(connection, customers.c.id, customer_ids)
                )
            ).all()
            runs = SqlBillingRunRepository(connection)
            runs.lock_balances([(row.customer_id, head["currency"]) for row in rows])
            first = runs.reserve_numbers(REPLAY_SERIES, "all", len(rows))
            elapsed += time.perf_counter() - began
            updates, head_rows, line_rows = _parameter_rows(
                rows, head, (header_data, line_data), first, moved_on
            )
            began = time.perf_counter()
            connection.execute(batch_update_statement(connection), updates)
            head_param = _json_text_param(connection, "data_json", invoices.c.data)
            connection.execute(sa.insert(invoices).values(data=head_param), head_rows)
            line_param = _json_text_param(connection, "data_json", invoice_lines.c.data)
            connection.execute(sa.insert(invoice_lines).values(data=line_param), line_rows)
        elapsed += time.perf_counter() - began
        replayed += len(rows)
    storage.close()
    return elapsed, replayed


def _parameter_rows(
    rows: Sequence[sa.Row[Any]],
    head: dict[str, Any],
    documents: tuple[str, str],
    first: int,
    moved_on: datetime,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The subscription updates and invoice and line rows of one replayed batch (the
    invoice and line ``documents`` as JSON text)."""
    header_data, line_data = documents
    updates = [
        {
            "b_id": row.id,
            "b_expected": row.version,
            "b_version": row.version + 1,
            "b_status": "active",
            "b_next_action_at": moved_on,
            "b_current_period_end": moved_on,
            "b_data": row.data,
        }
        for row in rows
    ]
    invoice_ids = [new_id("in") for _ in rows]
    head_rows = [
        {
            **head,
            "customer_id": row.customer_id,
            "subscription_id": row.id,
            "id": invoice_id,
            "number": f"BOUND-{first + k:09d}",
            "version": 1,
            "data_json": header_data,
        }
        for k, (invoice_id, row) in enumerate(zip(invoice_ids, rows, strict=True))
    ]
    line_rows = [
        {
            "id": new_id("il"),
            "invoice_id": invoice_id,
            "position": 0,
            "amount": head["total"],
            "currency": head["currency"],
            "data_json": line_data,
        }
        for invoice_id in invoice_ids
    ]
    return updates, head_rows, line_rows


def codec_bound(url: str, chunk: int = 1000) -> tuple[float, int]:
    """Seconds the models take to decode what a run read (every subscription and customer
    document) and to encode what it wrote (every subscription, invoice header and line),
    and the number of subscriptions. Read in chunks (memory stays flat); only the
    ``load_json``/``dump_json`` calls are timed."""
    storage = open_storage(url)
    assert isinstance(storage, SQLAlchemyStorage)
    with storage.engine.connect() as connection:
        elapsed, count = _decode(connection, subscriptions, SUBSCRIPTIONS, chunk, rewrite=True)
        elapsed += _decode(connection, customers, CUSTOMERS, chunk, rewrite=False)[0]
        elapsed += _encode_invoices(connection, chunk)
        connection.rollback()
    storage.close()
    return elapsed, count


def _decode(
    connection: sa.Connection, table: sa.Table, spec: EntitySpec[M], chunk: int, *, rewrite: bool
) -> tuple[float, int]:
    """Seconds to decode every document of ``table`` (and encode it again if ``rewrite``),
    and how many there were."""
    query = sa.select(table.c.id, _json_text(connection, table.c.data)).order_by(table.c.id)
    elapsed, count, after = 0.0, 0, ""
    while True:
        rows = connection.execute(query.where(table.c.id > after).limit(chunk)).all()
        if not rows:
            return elapsed, count
        after, texts = rows[-1].id, [row.data for row in rows]
        began = time.perf_counter()
        models = [spec.load_json(text) for text in texts]
        if rewrite:
            for model in models:
                spec.dump_json(model)
        elapsed += time.perf_counter() - began
        count += len(models)


def _encode_invoices(connection: sa.Connection, chunk: int) -> float:
    """Seconds to encode every run invoice header and line as the run does (only the run's
    invoices: the replay's ``BOUND-`` rows carry copies of one document)."""
    number = invoices.c.number
    copies = sa.or_(number.like("FLOOR-%"), number.like("BOUND-%"))
    run_invoices = sa.or_(number.is_(None), sa.not_(copies))
    query = (
        sa.select(invoices.c.id, invoices.c.data)
        .where(run_invoices)
        .order_by(invoices.c.id)
        .limit(chunk)
    )
    elapsed, after = 0.0, ""
    while True:
        heads = connection.execute(query.where(invoices.c.id > after)).all()
        if not heads:
            return elapsed
        after = heads[-1].id
        lines: dict[str, list[Any]] = {row.id: [] for row in heads}
        line_query = (
            sa.select(invoice_lines.c.invoice_id, invoice_lines.c.data)
            .where(invoice_lines.c.invoice_id.in_(list(lines)))
            .order_by(invoice_lines.c.invoice_id, invoice_lines.c.position)
        )
        for invoice_id, data in connection.execute(line_query):
            lines[invoice_id].append(data)
        built = [Invoice.model_validate({**row.data, "lines": lines[row.id]}) for row in heads]
        began = time.perf_counter()
        for invoice in built:
            SQL_INVOICES.dump_json(invoice)
            for line in invoice.lines:
                line.model_dump_json()
        elapsed += time.perf_counter() - began


if __name__ == "__main__":
    print("Used by billing_run.py --bounds; run that.")
