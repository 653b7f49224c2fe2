"""Repositories on one SQLAlchemy Core connection (the unit of work's transaction)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from lms_billing.domain.catalog import Plan, Price, Product
from lms_billing.domain.customers import Customer
from lms_billing.errors import (
    AlreadyExistsError,
    ConflictError,
    IdempotencyKeyInUseError,
    NotFoundError,
    StaleVersionError,
)
from lms_billing.storage.base import IdempotencyRecord, check_limit
from lms_billing.storage.entities import EntitySpec, utc
from lms_billing.storage.queries import (
    CustomerQueries,
    PlanQueries,
    PriceQueries,
    ProductQueries,
    QueryPrimitives,
)
from lms_billing.storage.sqlalchemy.tables import ENTITY_TABLES, idempotency_keys

M = TypeVar("M", bound=BaseModel)

# Namespace (first int4) of lms-billing's PostgreSQL advisory locks.
ADVISORY_LOCK_NAMESPACE = 0x1B5B


def _is_foreign_key_violation(exc: IntegrityError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate is not None:
        return bool(sqlstate == "23503")
    return "FOREIGN KEY" in str(exc.orig).upper()


class _SqlRepository(QueryPrimitives[M]):
    def __init__(self, connection: sa.Connection, spec: EntitySpec[M]) -> None:
        self._conn = connection
        self._spec = spec
        self._table = ENTITY_TABLES[spec.table]
        self._seen: dict[str, int] = {}

    def _not_found(self, entity_id: str) -> NotFoundError:
        return NotFoundError(f"No {self._spec.label} {entity_id!r}.", id=entity_id)

    def _rebuild(self, row: sa.Row[Any]) -> M:
        self._seen.setdefault(row.id, row.version)
        return self._spec.load(row.data)

    def _select(self) -> sa.Select[Any]:
        table = self._table
        return sa.select(table.c.id, table.c.version, table.c.data)

    def get_or_none(self, entity_id: str) -> M | None:
        row = self._conn.execute(self._select().where(self._table.c.id == entity_id)).first()
        return None if row is None else self._rebuild(row)

    def get(self, entity_id: str) -> M:
        entity = self.get_or_none(entity_id)
        if entity is None:
            raise self._not_found(entity_id)
        return entity

    def version(self, entity_id: str) -> int:
        found = self._conn.execute(
            sa.select(self._table.c.version).where(self._table.c.id == entity_id)
        ).scalar()
        if found is None:
            raise self._not_found(entity_id)
        return int(found)

    def _get_by(self, column: str, value: object) -> M | None:
        row = self._conn.execute(self._select().where(self._table.c[column] == value)).first()
        return None if row is None else self._rebuild(row)

    def _find(self, **values: object) -> M | None:
        query = self._select()
        for column, value in values.items():
            query = query.where(self._table.c[column] == value)
        row = self._conn.execute(query.limit(1)).first()
        return None if row is None else self._rebuild(row)

    def _list(
        self, filters: Mapping[str, object], limit: int, starting_after: str | None
    ) -> list[M]:
        check_limit(limit)
        # Newest first: ids are time-ordered, so descending id order is creation order.
        query = self._select().order_by(self._table.c.id.desc()).limit(limit)
        for column, value in filters.items():
            if value is not None:
                query = query.where(self._table.c[column] == value)
        if starting_after is not None:
            query = query.where(self._table.c.id < starting_after)
        return [self._rebuild(row) for row in self._conn.execute(query)]

    def _write(self, statement: sa.Executable, entity_id: str) -> sa.CursorResult[Any]:
        # A savepoint keeps the transaction usable after a constraint violation (PostgreSQL
        # aborts the whole transaction otherwise), so every backend behaves alike.
        try:
            with self._conn.begin_nested():
                return self._conn.execute(statement)
        except IntegrityError as exc:
            if _is_foreign_key_violation(exc):
                refs = ", ".join(self._spec.references) or "reference"
                raise NotFoundError(
                    f"The {self._spec.label}'s {refs} names a row that does not exist.",
                    id=entity_id,
                ) from exc
            unique = ", ".join(("id", *self._spec.unique))
            raise AlreadyExistsError(
                f"A {self._spec.label} with the same {unique} already exists.", id=entity_id
            ) from exc

    def add(self, entity: M) -> None:
        columns = self._spec.key_columns(entity)
        values = {**columns, "version": 1, "data": self._spec.dump(entity)}
        self._write(sa.insert(self._table).values(values), str(columns["id"]))
        self._seen[str(columns["id"])] = 1

    def update(self, entity: M, *, expected_version: int | None = None) -> int:
        columns = self._spec.key_columns(entity)
        entity_id = str(columns.pop("id"))
        expected = expected_version
        if expected is None:
            expected = self._seen.get(entity_id)
        if expected is None:
            expected = self.version(entity_id)
        table = self._table
        statement = (
            sa.update(table)
            .where(table.c.id == entity_id, table.c.version == expected)
            .values(**columns, version=expected + 1, data=self._spec.dump(entity))
        )
        if self._write(statement, entity_id).rowcount == 0:
            current = self.version(entity_id)  # raises NotFoundError when it is gone
            raise StaleVersionError(
                f"{self._spec.label} {entity_id!r} is at version {current}, not {expected}.",
                id=entity_id,
                version=current,
                expected_version=expected,
            )
        self._seen[entity_id] = expected + 1
        return expected + 1


class SqlCustomerRepository(_SqlRepository[Customer], CustomerQueries):
    pass


class SqlProductRepository(_SqlRepository[Product], ProductQueries):
    pass


class SqlPriceRepository(_SqlRepository[Price], PriceQueries):
    pass


class SqlPlanRepository(_SqlRepository[Plan], PlanQueries):
    pass


class SqlIdempotencyRepository:
    def __init__(self, connection: sa.Connection) -> None:
        self._conn = connection
        self._table = idempotency_keys

    def get(self, key: str) -> IdempotencyRecord | None:
        row = self._conn.execute(sa.select(self._table).where(self._table.c.key == key)).first()
        if row is None:
            return None
        values = row._asdict()
        for name in ("created_at", "completed_at"):
            if values[name] is not None and values[name].tzinfo is None:
                values[name] = values[name].replace(tzinfo=UTC)  # SQLite drops the offset
        return IdempotencyRecord.model_validate(values)

    def _try_lock(self, key: str) -> bool:
        if self._conn.dialect.name != "postgresql":
            return True  # SQLite: BEGIN IMMEDIATE already serializes writers
        # A transaction-scoped advisory lock per key: a second transaction with the same key
        # fails fast instead of blocking on the first one's uncommitted row.
        statement = sa.select(
            sa.func.pg_try_advisory_xact_lock(ADVISORY_LOCK_NAMESPACE, sa.func.hashtext(key))
        )
        return bool(self._conn.execute(statement).scalar())

    def claim(
        self, key: str, *, operation: str, request_hash: str, now: datetime
    ) -> IdempotencyRecord | None:
        if not self._try_lock(key):
            raise IdempotencyKeyInUseError(key=key)
        existing = self.get(key)
        if existing is not None:
            return existing
        values = {
            "key": key,
            "operation": operation,
            "request_hash": request_hash,
            "created_at": utc(now),
        }
        try:
            with self._conn.begin_nested():
                self._conn.execute(sa.insert(self._table).values(values))
        except IntegrityError as exc:
            # Another writer that bypassed the advisory lock won the race.
            winner = self.get(key)
            if winner is not None:
                return winner
            raise IdempotencyKeyInUseError(key=key) from exc
        return None

    def complete(self, key: str, *, response: Mapping[str, Any], now: datetime) -> None:
        table = self._table
        done = self._conn.execute(
            sa.update(table)
            .where(table.c.key == key, table.c.response.is_(None))
            .values(response=dict(response), completed_at=utc(now))
        )
        if done.rowcount == 0:
            if self.get(key) is None:
                raise NotFoundError(f"Idempotency key {key!r} was not claimed.", key=key)
            raise ConflictError(f"Idempotency key {key!r} is already completed.", key=key)

    def release(self, key: str) -> None:
        table = self._table
        self._conn.execute(sa.delete(table).where(table.c.key == key, table.c.response.is_(None)))

    def delete_before(self, cutoff: datetime) -> int:
        result = self._conn.execute(
            sa.delete(self._table).where(self._table.c.created_at < utc(cutoff))
        )
        return int(result.rowcount)


__all__ = [
    "SqlCustomerRepository",
    "SqlIdempotencyRepository",
    "SqlPlanRepository",
    "SqlPriceRepository",
    "SqlProductRepository",
]
