"""In-process storage for unit tests and offline experiments (``memory://``).

It behaves like the SQL backends: units of work see their own changes, others see them only
after :meth:`~MemoryUnitOfWork.commit`; leaving without commit discards them. Unique keys,
references, optimistic versions and idempotency claims are checked both when written and
again, atomically under one lock, at commit. Documents are kept as JSON text, so a model that
does not survive the JSON round trip fails here just as it would in a database.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from lms_billing.domain.catalog import Plan, Price, Product
from lms_billing.domain.customers import Customer
from lms_billing.errors import (
    AlreadyExistsError,
    ConfigurationError,
    ConflictError,
    IdempotencyKeyInUseError,
    NotFoundError,
    StaleVersionError,
)
from lms_billing.storage.base import IdempotencyRecord, check_limit
from lms_billing.storage.entities import CUSTOMERS, PLANS, PRICES, PRODUCTS, EntitySpec
from lms_billing.storage.queries import (
    CustomerQueries,
    PlanQueries,
    PriceQueries,
    ProductQueries,
    QueryPrimitives,
)
from lms_billing.storage.wiring import RepositorySlots, attach_repositories

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class _Row:
    version: int
    columns: dict[str, Any]
    data: str  # JSON text of model_dump(mode="json")


@dataclass
class _State:
    """Committed data shared by every unit of work of one :class:`MemoryStorage`."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    tables: dict[str, dict[str, _Row]] = field(default_factory=dict)
    idempotency: dict[str, IdempotencyRecord] = field(default_factory=dict)
    # key -> the open unit of work that claimed it (like a row lock held until it ends)
    inflight: dict[str, object] = field(default_factory=dict)


class _MemoryRepository(QueryPrimitives[M]):
    def __init__(self, uow: MemoryUnitOfWork, spec: EntitySpec[M]) -> None:
        self._uow = uow
        self._spec = spec
        # id -> new row, written by this unit of work and not committed yet
        self._pending: dict[str, _Row] = {}
        # id -> version expected in the committed table at commit (None: must not exist)
        self._expected: dict[str, int | None] = {}
        self._seen: dict[str, int] = {}

    # reads ---------------------------------------------------------------------------------

    def _committed(self) -> dict[str, _Row]:
        return self._uow.state.tables.setdefault(self._spec.table, {})

    def _row(self, entity_id: str) -> _Row | None:
        if entity_id in self._pending:
            return self._pending[entity_id]
        with self._uow.state.lock:
            return self._committed().get(entity_id)

    def _view(self) -> dict[str, _Row]:
        with self._uow.state.lock:
            merged = dict(self._committed())
        merged.update(self._pending)
        return merged

    def _load(self, entity_id: str, row: _Row) -> M:
        self._seen.setdefault(entity_id, row.version)
        return self._spec.model.model_validate_json(row.data)

    def get_or_none(self, entity_id: str) -> M | None:
        row = self._row(entity_id)
        return None if row is None else self._load(entity_id, row)

    def get(self, entity_id: str) -> M:
        entity = self.get_or_none(entity_id)
        if entity is None:
            raise NotFoundError(f"No {self._spec.label} {entity_id!r}.", id=entity_id)
        return entity

    def version(self, entity_id: str) -> int:
        row = self._row(entity_id)
        if row is None:
            raise NotFoundError(f"No {self._spec.label} {entity_id!r}.", id=entity_id)
        return row.version

    def _get_by(self, column: str, value: object) -> M | None:
        return self._find(**{column: value})

    def _find(self, **values: object) -> M | None:
        for entity_id, row in self._view().items():
            if all(row.columns.get(k) == v for k, v in values.items()):
                return self._load(entity_id, row)
        return None

    def _list(
        self, filters: Mapping[str, object], limit: int, starting_after: str | None
    ) -> list[M]:
        check_limit(limit)
        # Newest first: ids are time-ordered, so descending id order is creation order.
        result: list[M] = []
        view = self._view()
        for entity_id in sorted(view, reverse=True):
            if starting_after is not None and entity_id >= starting_after:
                continue
            row = view[entity_id]
            if all(v is None or row.columns.get(k) == v for k, v in filters.items()):
                result.append(self._load(entity_id, row))
                if len(result) == limit:
                    break
        return result

    # writes --------------------------------------------------------------------------------

    def _make_row(self, entity: M, version: int) -> _Row:
        return _Row(
            version=version,
            columns=self._spec.key_columns(entity),
            data=entity.model_dump_json(),
        )

    def _check_constraints(self, row: _Row, view: Mapping[str, _Row]) -> None:
        entity_id = row.columns["id"]
        for column in self._spec.unique:
            value = row.columns.get(column)
            if value is None:
                continue
            for other_id, other in view.items():
                if other_id != entity_id and other.columns.get(column) == value:
                    raise AlreadyExistsError(
                        f"A {self._spec.label} with {column} {value!r} already exists.",
                        **{column: value},
                    )
        for column, table in self._spec.references.items():
            target = row.columns.get(column)
            if target is not None and not self._uow.row_exists(table, str(target)):
                raise NotFoundError(
                    f"{self._spec.label} {column} {target!r} does not exist.", **{column: target}
                )

    def add(self, entity: M) -> None:
        row = self._make_row(entity, 1)
        entity_id = row.columns["id"]
        if self._row(entity_id) is not None:
            raise AlreadyExistsError(
                f"A {self._spec.label} with id {entity_id!r} already exists.", id=entity_id
            )
        self._check_constraints(row, self._view())
        self._pending[entity_id] = row
        self._expected.setdefault(entity_id, None)
        self._seen[entity_id] = 1

    def update(self, entity: M, *, expected_version: int | None = None) -> int:
        entity_id = str(self._spec.key_columns(entity)["id"])
        current = self._row(entity_id)
        if current is None:
            raise NotFoundError(f"No {self._spec.label} {entity_id!r}.", id=entity_id)
        expected = (
            expected_version
            if expected_version is not None
            else self._seen.get(entity_id, current.version)
        )
        if current.version != expected:
            raise StaleVersionError(
                f"{self._spec.label} {entity_id!r} is at version {current.version}, "
                f"not {expected}.",
                id=entity_id,
                version=current.version,
                expected_version=expected,
            )
        row = self._make_row(entity, expected + 1)
        self._check_constraints(row, self._view())
        if entity_id not in self._expected:
            self._expected[entity_id] = current.version
        self._pending[entity_id] = row
        self._seen[entity_id] = row.version
        return row.version

    # commit (called under the state lock) ---------------------------------------------------

    def _validate_commit(self) -> None:
        committed = self._committed()
        for entity_id, expected in self._expected.items():
            current = committed.get(entity_id)
            if expected is None and current is not None:
                raise AlreadyExistsError(
                    f"A {self._spec.label} with id {entity_id!r} already exists.", id=entity_id
                )
            if expected is not None and (current is None or current.version != expected):
                raise StaleVersionError(
                    f"{self._spec.label} {entity_id!r} changed since it was read.", id=entity_id
                )
        merged = dict(committed)
        merged.update(self._pending)
        for row in self._pending.values():
            self._check_constraints(row, merged)

    def _apply(self) -> None:
        self._committed().update(self._pending)
        self._pending.clear()
        self._expected.clear()


class _Deletable(_MemoryRepository[M]):
    """A memory repository whose rows can be deleted within the unit of work."""

    def __init__(self, uow: MemoryUnitOfWork, spec: EntitySpec[M]) -> None:
        super().__init__(uow, spec)
        self._deleted: set[str] = set()

    def _row(self, entity_id: str) -> _Row | None:
        return None if entity_id in self._deleted else super()._row(entity_id)

    def _view(self) -> dict[str, _Row]:
        return {k: v for k, v in super()._view().items() if k not in self._deleted}

    def _delete(self, entity_id: str) -> None:
        current = self._row(entity_id)
        if current is None:
            raise NotFoundError(f"No {self._spec.label} {entity_id!r}.", id=entity_id)
        self._pending.pop(entity_id, None)
        if self._expected.get(entity_id, 0) is None:  # added here: just forget it
            del self._expected[entity_id]
        else:
            self._expected.setdefault(entity_id, self._seen.get(entity_id, current.version))
            self._deleted.add(entity_id)

    def _apply(self) -> None:
        super()._apply()
        committed = self._committed()
        for entity_id in self._deleted:
            committed.pop(entity_id, None)
        self._deleted.clear()


class MemoryCustomerRepository(_MemoryRepository[Customer], CustomerQueries):
    pass


class MemoryProductRepository(_MemoryRepository[Product], ProductQueries):
    pass


class MemoryPriceRepository(_MemoryRepository[Price], PriceQueries):
    pass


class MemoryPlanRepository(_MemoryRepository[Plan], PlanQueries):
    pass


class MemoryIdempotencyRepository:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow
        self._pending: dict[str, IdempotencyRecord | None] = {}  # None: deleted

    def _current(self, key: str) -> IdempotencyRecord | None:
        if key in self._pending:
            return self._pending[key]
        with self._uow.state.lock:
            return self._uow.state.idempotency.get(key)

    def get(self, key: str) -> IdempotencyRecord | None:
        return self._current(key)

    def claim(
        self, key: str, *, operation: str, request_hash: str, now: datetime
    ) -> IdempotencyRecord | None:
        if key in self._pending and self._pending[key] is not None:
            return self._pending[key]
        state = self._uow.state
        with state.lock:
            owner = state.inflight.get(key)
            if owner is not None and owner is not self._uow:
                raise IdempotencyKeyInUseError(key=key)
            existing = state.idempotency.get(key)
            if existing is not None and key not in self._pending:
                return existing
            state.inflight[key] = self._uow
        self._pending[key] = IdempotencyRecord(
            key=key, operation=operation, request_hash=request_hash, created_at=now
        )
        return None

    def complete(self, key: str, *, response: Mapping[str, Any], now: datetime) -> None:
        record = self._current(key)
        if record is None:
            raise NotFoundError(f"Idempotency key {key!r} was not claimed.", key=key)
        if record.completed:
            raise ConflictError(f"Idempotency key {key!r} is already completed.", key=key)
        self._pending[key] = record.model_copy(
            update={"response": dict(response), "completed_at": now}
        )

    def release(self, key: str) -> None:
        record = self._current(key)
        if record is not None and not record.completed:
            self._pending[key] = None

    def delete_before(self, cutoff: datetime) -> int:
        with self._uow.state.lock:
            keys = set(self._uow.state.idempotency)
        keys.update(self._pending)
        doomed = [
            key
            for key in keys
            if (record := self._current(key)) is not None and record.created_at < cutoff
        ]
        for key in doomed:
            self._pending[key] = None
        return len(doomed)

    def _apply(self) -> None:
        records = self._uow.state.idempotency
        for key, record in self._pending.items():
            if record is None:
                records.pop(key, None)
            else:
                records[key] = record
        self._pending.clear()


class MemoryUnitOfWork(RepositorySlots):
    """One in-memory transaction; see :class:`lms_billing.storage.base.UnitOfWork`."""

    def __init__(self, state: _State) -> None:
        from lms_billing.storage.memory_invoicing import MemoryInvoicing
        from lms_billing.storage.memory_payments import MemoryPayments
        from lms_billing.storage.memory_subscriptions import MemorySubscriptions

        self.state = state
        self.customers = MemoryCustomerRepository(self, CUSTOMERS)
        self.products = MemoryProductRepository(self, PRODUCTS)
        self.prices = MemoryPriceRepository(self, PRICES)
        self.plans = MemoryPlanRepository(self, PLANS)
        self.idempotency = MemoryIdempotencyRepository(self)
        families = (MemoryInvoicing(self), MemorySubscriptions(self), MemoryPayments(self))
        attach_repositories(self, *families)
        self._repositories: tuple[_MemoryRepository[Any], ...] = (
            self.customers,
            self.products,
            self.prices,
            self.plans,
            *(repository for family in families for repository in family.repositories()),
        )

    def row_exists(self, table: str, entity_id: str) -> bool:
        for repository in self._repositories:
            if repository._spec.table == table:
                return repository._row(entity_id) is not None
        return False

    def commit(self) -> None:
        with self.state.lock:
            for repository in self._repositories:
                repository._validate_commit()
            for repository in self._repositories:
                repository._apply()
            self.idempotency._apply()
            self._release_claims()

    def rollback(self) -> None:
        for repository in self._repositories:
            repository._pending.clear()
            repository._expected.clear()
        self.idempotency._pending.clear()
        with self.state.lock:
            self._release_claims()

    def _release_claims(self) -> None:
        inflight = self.state.inflight
        for key in [k for k, owner in inflight.items() if owner is self]:
            del inflight[key]


class MemoryStorage:
    """Storage kept in this process; each instance starts empty (``memory://``)."""

    name = "memory"

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._state = _State()
        self._closed = False

    @contextmanager
    def unit_of_work(self) -> Iterator[MemoryUnitOfWork]:
        if self._closed:
            raise ConfigurationError("This storage is closed.")
        uow = MemoryUnitOfWork(self._state)
        try:
            yield uow
        finally:
            uow.rollback()  # discards whatever was not committed

    def migrate(self) -> None:
        """Nothing to migrate in memory."""

    def close(self) -> None:
        self._closed = True

    def __repr__(self) -> str:
        return f"MemoryStorage({self.url!r})"


__all__ = ["MemoryStorage", "MemoryUnitOfWork"]
