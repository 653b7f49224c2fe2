"""Idempotency keys on SQLite and PostgreSQL: replay, mismatch and concurrent first calls."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from lms_billing.clock import TestClock
from lms_billing.domain.catalog import Product
from lms_billing.errors import IdempotencyKeyInUseError, IdempotencyKeyMismatchError
from lms_billing.services.idempotency import request_hash, run_idempotent
from lms_billing.storage import open_storage
from lms_billing.storage.base import Storage, UnitOfWork

CLOCK = TestClock(datetime(2026, 2, 1, tzinfo=UTC))


@pytest.fixture
def sql_storage(storage_url: str) -> Iterator[Storage]:
    opened = open_storage(storage_url, migrate=True)
    yield opened
    opened.close()


def _create(
    uow: UnitOfWork, key: str, name: str, execute: Callable[[], Product] | None = None
) -> Product:
    def default_execute() -> Product:
        product = Product(name=name, created_at=CLOCK.now())
        uow.products.add(product)
        return product

    return run_idempotent(
        uow,
        key=key,
        operation="products.create",
        request={"name": name},
        execute=execute or default_execute,
        dump=lambda product: product.model_dump(mode="json"),
        load=Product.model_validate,
        clock=CLOCK,
    )


def test_replay_and_mismatch(sql_storage: Storage) -> None:
    with sql_storage.unit_of_work() as uow:
        first = _create(uow, "key-1", "Course")
        uow.commit()
    with sql_storage.unit_of_work() as uow:
        assert _create(uow, "key-1", "Course", execute=lambda: pytest.fail("ran twice")) == first
        with pytest.raises(IdempotencyKeyMismatchError):
            _create(uow, "key-1", "Another course")
        assert [p.id for p in uow.products.list()] == [first.id]
        record = uow.idempotency.get("key-1")
        assert record is not None
        assert record.request_hash == request_hash({"name": "Course"})
        assert record.created_at == CLOCK.now()
        assert record.completed_at == CLOCK.now()


def test_rolled_back_call_leaves_no_key(sql_storage: Storage) -> None:
    with sql_storage.unit_of_work() as uow:
        _create(uow, "key-1", "Course")
    with sql_storage.unit_of_work() as uow:
        assert uow.idempotency.get("key-1") is None
        assert uow.products.list() == []


def test_failed_call_releases_its_claim(sql_storage: Storage) -> None:
    def boom() -> Product:
        raise RuntimeError("provider down")

    with sql_storage.unit_of_work() as uow:
        with pytest.raises(RuntimeError):
            _create(uow, "key-1", "Course", execute=boom)
        assert uow.idempotency.get("key-1") is None
        _create(uow, "key-1", "Course")
        uow.commit()
    with sql_storage.unit_of_work() as uow:
        assert len(uow.products.list()) == 1


def test_committed_claim_in_flight_is_in_use_until_completed(sql_storage: Storage) -> None:
    digest = request_hash({"name": "Course"})
    with sql_storage.unit_of_work() as uow:
        assert (
            uow.idempotency.claim(
                "key-1", operation="products.create", request_hash=digest, now=CLOCK.now()
            )
            is None
        )
        uow.commit()
    with sql_storage.unit_of_work() as uow, pytest.raises(IdempotencyKeyInUseError):
        _create(uow, "key-1", "Course")
    product = Product(name="Course", created_at=CLOCK.now())
    with sql_storage.unit_of_work() as uow:
        uow.idempotency.complete("key-1", response=product.model_dump(mode="json"), now=CLOCK.now())
        uow.commit()
    with sql_storage.unit_of_work() as uow:
        assert _create(uow, "key-1", "Course") == product


def test_delete_before(sql_storage: Storage) -> None:
    with sql_storage.unit_of_work() as uow:
        _create(uow, "key-1", "Course")
        uow.commit()
    with sql_storage.unit_of_work() as uow:
        assert uow.idempotency.delete_before(datetime(2026, 1, 31, tzinfo=UTC)) == 0
        assert uow.idempotency.delete_before(datetime(2026, 2, 2, tzinfo=UTC)) == 1
        uow.commit()
    with sql_storage.unit_of_work() as uow:
        assert uow.idempotency.get("key-1") is None


def test_concurrent_first_calls_execute_exactly_once(sql_storage: Storage) -> None:
    """Threads race with one key: one executes; the rest replay it or see it in use."""
    workers = 4
    barrier = threading.Barrier(workers)
    executions: list[str] = []
    results: list[Product] = []
    in_use: list[IdempotencyKeyInUseError] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            barrier.wait(timeout=30)
            with sql_storage.unit_of_work() as uow:

                def execute() -> Product:
                    with lock:
                        executions.append(threading.current_thread().name)
                    # Hold the claim a little so the other threads arrive while it is in flight.
                    threading.Event().wait(0.3)
                    product = Product(name="Course", created_at=CLOCK.now())
                    uow.products.add(product)
                    return product

                product = _create(uow, "race", "Course", execute=execute)
                uow.commit()
            with lock:
                results.append(product)
        except IdempotencyKeyInUseError as exc:
            with lock:
                in_use.append(exc)
        except BaseException as exc:
            with lock:
                failures.append(exc)

    threads = [threading.Thread(target=worker, name=f"w{i}") for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert len(executions) == 1
    assert len(results) + len(in_use) == workers
    assert results and all(product == results[0] for product in results)
    with sql_storage.unit_of_work() as uow:
        assert [p.id for p in uow.products.list()] == [results[0].id]


@pytest.mark.postgres
def test_postgres_second_transaction_fails_fast_while_first_is_in_flight(
    postgres_url: str,
) -> None:
    storage = open_storage(postgres_url, migrate=True)
    try:
        with storage.unit_of_work() as first, storage.unit_of_work() as second:
            first_product = _create(first, "key-1", "Course")
            with pytest.raises(IdempotencyKeyInUseError):
                _create(second, "key-1", "Course")
            first.commit()
            # Once committed, the same transaction that was refused now replays the result.
            assert _create(second, "key-1", "Course", execute=lambda: pytest.fail("ran")) == (
                first_product
            )
    finally:
        storage.close()
