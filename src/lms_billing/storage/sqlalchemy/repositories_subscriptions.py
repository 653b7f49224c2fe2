"""Subscription repositories on the unit of work's SQLAlchemy Core connection.

The billing run's hot path is set-based: :meth:`SqlSubscriptionRepository.claim_due` reads a
batch in one ``SELECT ... FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite serialises writers
with ``BEGIN IMMEDIATE``), :meth:`~SqlSubscriptionRepository.update_many` saves it with one
``executemany`` UPDATE and :meth:`SqlBillingRunRepository.insert_invoices` writes the batch's
invoices and lines with two ``executemany`` INSERTs (ids are generated client-side).
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.dialects import postgresql, sqlite

from lms_billing.domain.customers import Customer
from lms_billing.domain.invoices import Invoice
from lms_billing.domain.subscription_records import (
    BillingRun,
    PendingInvoiceItem,
    SubscriptionRecord,
)
from lms_billing.errors import NotFoundError, StaleVersionError
from lms_billing.storage.base import check_limit
from lms_billing.storage.entities import CUSTOMERS, EntitySpec, utc
from lms_billing.storage.entities_subscriptions import (
    BILLING_RUNS,
    PENDING_INVOICE_ITEMS,
    SUBSCRIPTIONS,
)
from lms_billing.storage.queries import PlainListQueries, SubscriptionQueries
from lms_billing.storage.sqlalchemy.repositories import _SqlRepository
from lms_billing.storage.sqlalchemy.repositories_invoicing import (
    BALANCE_LOCK_NAMESPACE,
    SQL_INVOICES,
)
from lms_billing.storage.sqlalchemy.tables import customers as customers_table
from lms_billing.storage.sqlalchemy.tables_invoicing import (
    customer_balance_transactions,
    invoice_lines,
    invoices,
    numbering_counters,
)
from lms_billing.storage.sqlalchemy.tables_subscriptions import SUBSCRIPTION_TABLES
from lms_billing.storage.sqlalchemy.tables_subscriptions import (
    subscriptions as subscriptions_table,
)

M = TypeVar("M", bound=BaseModel)

_IN_CHUNK = 500  # ids per IN (...) list: well below every driver's parameter limit


def _json_text(connection: sa.Connection, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """A JSON document column read as JSON text, for :func:`_load`: SQLite hands back the
    stored text, PostgreSQL renders its JSONB as text (``::text``: cheaper than the driver's
    ``json.loads`` of every document into dicts for pydantic to walk).

    Only for queries that return what they read (by key, or in index order with a LIMIT,
    as the billing run's claim): a sort would evaluate the cast for every row it sorts."""
    if connection.dialect.name == "postgresql":
        return sa.cast(column, sa.Text).label(column.key)
    return sa.type_coerce(column, sa.Text).label(column.key)


def _load(spec: EntitySpec[M], data: str | dict[str, Any]) -> M:
    """A model from a :func:`_json_text` value: JSON text is parsed and validated by pydantic
    in one step (a dict, from a JSONB column read as such, is validated as it is)."""
    return spec.load_json(data) if isinstance(data, str) else spec.load(data)


def _among(
    connection: sa.Connection, column: sa.ColumnElement[Any], values: Sequence[str]
) -> sa.ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``column = ANY(:array)``: one parameter, not one
    per value (a batch's ids)."""
    if connection.dialect.name == "postgresql":
        return column == sa.any_(sa.literal(list(values), type_=postgresql.ARRAY(sa.Text)))
    return column.in_(list(values))


def _json_text_param(
    connection: sa.Connection, name: str, column: sa.ColumnElement[Any]
) -> sa.ColumnElement[Any]:
    """A bind parameter for JSON text already encoded by ``EntitySpec.dump_json``: SQLite
    stores JSON as text anyway; PostgreSQL casts the text to the column's JSONB."""
    param = sa.bindparam(name, type_=sa.Text)
    return sa.cast(param, column.type) if connection.dialect.name == "postgresql" else param


def claim_query(
    connection: sa.Connection, at: datetime, limit: int, *, exclude: Collection[str] = ()
) -> sa.Select[Any]:
    """The billing run's claim: ``id, version, data`` (JSON text) of up to ``limit``
    subscriptions due at ``at``, in claim order, locked for this transaction."""
    table = subscriptions_table
    due = table.c.next_action_at <= utc(at)
    if exclude:  # a billing run's stuck subscriptions: normally none
        due = sa.and_(due, table.c.id.not_in(sorted(exclude)))
    return (
        sa.select(table.c.id, table.c.version, _json_text(connection, table.c.data))
        .where(due)
        .order_by(table.c.next_action_at, table.c.id)
        .limit(limit)
        # PostgreSQL: rows other workers hold are skipped, not waited for. SQLite renders
        # no locking clause (its BEGIN IMMEDIATE already admits one writer at a time).
        .with_for_update(skip_locked=True)
    )


def batch_update_statement(connection: sa.Connection) -> sa.Update:
    """The versioned UPDATE of a batch of subscriptions, for ``executemany`` with rows of
    ``b_id``, ``b_expected`` (the version read), ``b_version``, ``b_status``,
    ``b_next_action_at``, ``b_current_period_end`` and ``b_data`` (JSON text)."""
    table = subscriptions_table
    return (
        sa.update(table)
        .where(table.c.id == sa.bindparam("b_id"), table.c.version == sa.bindparam("b_expected"))
        .values(
            version=sa.bindparam("b_version"),
            status=sa.bindparam("b_status"),
            next_action_at=sa.bindparam("b_next_action_at"),
            current_period_end=sa.bindparam("b_current_period_end"),
            data=_json_text_param(connection, "b_data", table.c.data),
        )
    )


class _Repo(_SqlRepository[M]):
    """A repository over one of the subscription tables."""

    def __init__(self, connection: sa.Connection, spec: EntitySpec[M]) -> None:
        self._conn = connection
        self._spec = spec
        self._table = SUBSCRIPTION_TABLES[spec.table]
        self._seen: dict[str, int] = {}

    def _select_text(self) -> sa.Select[Any]:
        table = self._table
        return sa.select(table.c.id, table.c.version, _json_text(self._conn, table.c.data))

    def _rebuild_text(self, row: sa.Row[Any]) -> M:
        self._seen.setdefault(row.id, row.version)
        return _load(self._spec, row.data)


class SqlSubscriptionRepository(_Repo[SubscriptionRecord], SubscriptionQueries):
    def __init__(self, connection: sa.Connection) -> None:
        super().__init__(connection, SUBSCRIPTIONS)

    def claim_due(
        self, at: datetime, limit: int, *, exclude: Collection[str] = ()
    ) -> builtins.list[SubscriptionRecord]:
        check_limit(limit)
        query = claim_query(self._conn, at, limit, exclude=exclude)
        return [self._rebuild_text(row) for row in self._conn.execute(query)]

    def update_many(self, records: Sequence[SubscriptionRecord]) -> None:
        if not records:
            return
        rows: list[dict[str, Any]] = []
        for record in records:
            columns = self._spec.key_columns(record)
            expected = self._seen.get(record.id)
            if expected is None:
                expected = self.version(record.id)
            rows.append(
                {
                    "b_id": record.id,
                    "b_expected": expected,
                    "b_version": expected + 1,
                    "b_status": columns["status"],
                    "b_next_action_at": columns["next_action_at"],
                    "b_current_period_end": columns["current_period_end"],
                    "b_data": self._spec.dump_json(record),
                }
            )
        result = self._conn.execute(batch_update_statement(self._conn), rows)
        if self._conn.dialect.supports_sane_multi_rowcount and result.rowcount != len(rows):
            raise StaleVersionError(
                "A subscription in this batch changed since it was claimed.",
                expected=len(rows),
                updated=result.rowcount,
            )
        for row in rows:
            self._seen[row["b_id"]] = row["b_version"]


class SqlPendingItemRepository(_Repo[PendingInvoiceItem]):
    def __init__(self, connection: sa.Connection) -> None:
        super().__init__(connection, PENDING_INVOICE_ITEMS)

    def for_subscriptions(
        self, subscription_ids: Sequence[str]
    ) -> dict[str, list[PendingInvoiceItem]]:
        found: dict[str, list[PendingInvoiceItem]] = {}
        if not subscription_ids:
            return found
        table = self._table
        query = (
            self._select_text()
            .where(_among(self._conn, table.c.subscription_id, subscription_ids))
            .order_by(table.c.id)
        )
        for row in self._conn.execute(query):
            item = self._rebuild_text(row)
            found.setdefault(item.subscription_id, []).append(item)
        return found

    def delete(self, item_ids: Sequence[str]) -> None:
        if item_ids:
            where = _among(self._conn, self._table.c.id, item_ids)
            self._conn.execute(sa.delete(self._table).where(where))


class SqlBillingRunRepository(_Repo[BillingRun], PlainListQueries[BillingRun]):
    def __init__(self, connection: sa.Connection) -> None:
        super().__init__(connection, BILLING_RUNS)

    def insert_invoices(self, batch: Sequence[Invoice]) -> None:
        if not batch:
            return
        # ``data`` goes in as JSON text encoded by pydantic (see _json_text_param).
        headers = [
            {
                **SQL_INVOICES.key_columns(invoice),
                "version": 1,
                "data_json": SQL_INVOICES.dump_json(invoice),
            }
            for invoice in batch
        ]
        lines = [
            {
                "id": line.id,
                "invoice_id": invoice.id,
                "position": position,
                "amount": line.amount,
                "currency": invoice.currency,
                "data_json": line.model_dump_json(),
            }
            for invoice in batch
            for position, line in enumerate(invoice.lines)
        ]
        conn = self._conn
        # One executemany per table.
        conn.execute(
            sa.insert(invoices).values(data=_json_text_param(conn, "data_json", invoices.c.data)),
            headers,
        )
        if lines:
            line_data = _json_text_param(conn, "data_json", invoice_lines.c.data)
            conn.execute(sa.insert(invoice_lines).values(data=line_data), lines)

    def reserve_numbers(self, series: str, period_key: str, count: int, *, start: int = 1) -> int:
        table = numbering_counters
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        last_of_first_use = start + count - 1
        statement = (
            dialect.insert(table)
            .values(series=series, period_key=period_key, last_value=last_of_first_use)
            .on_conflict_do_update(
                index_elements=[table.c.series, table.c.period_key],
                set_={"last_value": table.c.last_value + count},
            )
            .returning(table.c.last_value)
        )
        last = int(self._conn.execute(statement).scalar_one())
        return last - count + 1

    def customers(self, customer_ids: Sequence[str]) -> dict[str, Customer]:
        wanted = sorted(set(customer_ids))
        table = customers_table
        found: dict[str, Customer] = {}
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            query = sa.select(table.c.id, _json_text(self._conn, table.c.data)).where(
                _among(self._conn, table.c.id, chunk)
            )
            for row in self._conn.execute(query):
                found[row.id] = _load(CUSTOMERS, row.data)
        missing = [customer_id for customer_id in wanted if customer_id not in found]
        if missing:
            raise NotFoundError(f"No customer {missing[0]!r}.", id=missing[0])
        return found

    def lock_balances(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        pairs = sorted(set(keys))
        if not pairs:
            return {}
        if self._conn.dialect.name == "postgresql":
            # The same advisory locks CustomerBalanceRepository.balance(lock=True) takes, one
            # statement for the batch, in sorted order.
            texts = [f"{customer_id}:{currency}" for customer_id, currency in pairs]
            keyed = sa.select(
                sa.func.unnest(sa.literal(texts, type_=postgresql.ARRAY(sa.Text))).label("k")
            ).subquery()
            lock = sa.func.pg_advisory_xact_lock(
                BALANCE_LOCK_NAMESPACE, sa.func.hashtext(keyed.c.k)
            )
            self._conn.execute(sa.select(lock).select_from(keyed).order_by(keyed.c.k)).all()
        table = customer_balance_transactions
        balances = {pair: 0 for pair in pairs}
        ids = sorted({customer_id for customer_id, _ in pairs})
        for start in range(0, len(ids), _IN_CHUNK):
            query = (
                sa.select(table.c.customer_id, table.c.currency, sa.func.sum(table.c.amount))
                .where(_among(self._conn, table.c.customer_id, ids[start : start + _IN_CHUNK]))
                .group_by(table.c.customer_id, table.c.currency)
            )
            for customer_id, currency, total in self._conn.execute(query):
                if (customer_id, currency) in balances:
                    balances[(customer_id, currency)] = int(total)
        return balances


class SqlSubscriptions:
    """The subscription repositories of one SQL unit of work."""

    def __init__(self, connection: sa.Connection) -> None:
        self.subscriptions = SqlSubscriptionRepository(connection)
        self.pending_items = SqlPendingItemRepository(connection)
        self.billing_runs = SqlBillingRunRepository(connection)


__all__ = [
    "SqlBillingRunRepository",
    "SqlPendingItemRepository",
    "SqlSubscriptionRepository",
    "SqlSubscriptions",
    "batch_update_statement",
    "claim_query",
]
