"""run_idempotent on the in-memory storage: replay, mismatch, in-flight, failures."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from lms_billing.clock import TestClock
from lms_billing.domain.catalog import Product
from lms_billing.errors import (
    IdempotencyKeyInUseError,
    IdempotencyKeyMismatchError,
    ValidationError,
)
from lms_billing.services.idempotency import request_hash, run_idempotent
from lms_billing.storage.base import UnitOfWork
from lms_billing.storage.memory import MemoryStorage

CLOCK = TestClock(datetime(2026, 2, 1, tzinfo=UTC))


def _create_product(
    uow: UnitOfWork, key: str, request: dict[str, Any], calls: list[str]
) -> Product:
    def execute() -> Product:
        calls.append(key)
        product = Product(name=request["name"], created_at=CLOCK.now())
        uow.products.add(product)
        return product

    return run_idempotent(
        uow,
        key=key,
        operation="products.create",
        request=request,
        execute=execute,
        dump=lambda product: product.model_dump(mode="json"),
        load=Product.model_validate,
        clock=CLOCK,
    )


def test_request_hash_is_canonical() -> None:
    assert request_hash({"a": 1, "b": [1, 2]}) == request_hash({"b": [1, 2], "a": 1})
    assert request_hash({"a": 1}) != request_hash({"a": 2})
    assert request_hash({"amount": Decimal("1.10")}) != request_hash({"amount": Decimal("1.1")})
    assert len(request_hash({})) == 64


def test_request_hash_rejects_unhashable_values() -> None:
    with pytest.raises(ValidationError):
        request_hash({"callback": object()})


def test_replay_returns_stored_result_without_running_again(memory: MemoryStorage) -> None:
    calls: list[str] = []
    with memory.unit_of_work() as uow:
        first = _create_product(uow, "key-1", {"name": "Course"}, calls)
        uow.commit()
    with memory.unit_of_work() as uow:
        replay = _create_product(uow, "key-1", {"name": "Course"}, calls)
    assert replay == first
    assert calls == ["key-1"]
    with memory.unit_of_work() as uow:
        record = uow.idempotency.get("key-1")
        assert record is not None and record.completed
        assert record.created_at == CLOCK.now()


def test_same_key_different_request_or_operation_is_a_mismatch(memory: MemoryStorage) -> None:
    calls: list[str] = []
    with memory.unit_of_work() as uow:
        _create_product(uow, "key-1", {"name": "Course"}, calls)
        uow.commit()
    with memory.unit_of_work() as uow:
        with pytest.raises(IdempotencyKeyMismatchError):
            _create_product(uow, "key-1", {"name": "Other"}, calls)
        with pytest.raises(IdempotencyKeyMismatchError):
            run_idempotent(
                uow,
                key="key-1",
                operation="customers.create",
                request={"name": "Course"},
                execute=lambda: 1,
                dump=lambda n: {"n": n},
                load=lambda d: int(d["n"]),
            )
    assert calls == ["key-1"]


def test_without_commit_nothing_is_remembered(memory: MemoryStorage) -> None:
    calls: list[str] = []
    with memory.unit_of_work() as uow:
        _create_product(uow, "key-1", {"name": "Course"}, calls)
    with memory.unit_of_work() as uow:
        _create_product(uow, "key-1", {"name": "Course"}, calls)
        assert len(uow.products.list()) == 1
    assert calls == ["key-1", "key-1"]


def test_a_failed_call_releases_the_key(memory: MemoryStorage) -> None:
    def boom() -> int:
        raise RuntimeError("gateway down")

    with memory.unit_of_work() as uow:
        with pytest.raises(RuntimeError):
            run_idempotent(
                uow,
                key="key-1",
                operation="op",
                request={},
                execute=boom,
                dump=lambda n: {"n": n},
                load=lambda d: int(d["n"]),
            )
        assert uow.idempotency.get("key-1") is None
        result = run_idempotent(
            uow,
            key="key-1",
            operation="op",
            request={},
            execute=lambda: 7,
            dump=lambda n: {"n": n},
            load=lambda d: int(d["n"]),
        )
        assert result == 7


def test_key_in_flight_in_another_unit_of_work_is_in_use(memory: MemoryStorage) -> None:
    calls: list[str] = []
    with memory.unit_of_work() as first:
        first.idempotency.claim("key-1", operation="op", request_hash="h", now=CLOCK.now())
        with memory.unit_of_work() as second, pytest.raises(IdempotencyKeyInUseError):
            _create_product(second, "key-1", {"name": "Course"}, calls)
    # The first one ended without commit: the key is free again.
    with memory.unit_of_work() as uow:
        _create_product(uow, "key-1", {"name": "Course"}, calls)
    assert calls == ["key-1"]


def test_committed_claim_without_response_is_in_use(memory: MemoryStorage) -> None:
    # A caller may commit its claim before a slow provider call, then complete it later.
    with memory.unit_of_work() as uow:
        uow.idempotency.claim(
            "key-1", operation="op", request_hash=request_hash({}), now=CLOCK.now()
        )
        uow.commit()
    with memory.unit_of_work() as uow, pytest.raises(IdempotencyKeyInUseError):
        run_idempotent(
            uow,
            key="key-1",
            operation="op",
            request={},
            execute=lambda: 1,
            dump=lambda n: {"n": n},
            load=lambda d: int(d["n"]),
        )


def test_threads_with_the_same_key_execute_once(memory: MemoryStorage) -> None:
    calls: list[str] = []
    started, release = threading.Event(), threading.Event()
    outcomes: list[object] = []

    def slow_execute() -> int:
        calls.append("run")
        started.set()
        release.wait(timeout=10)
        return 42

    def worker(execute: Any) -> None:
        with memory.unit_of_work() as uow:
            try:
                outcomes.append(
                    run_idempotent(
                        uow,
                        key="key-1",
                        operation="op",
                        request={"x": 1},
                        execute=execute,
                        dump=lambda n: {"n": n},
                        load=lambda d: int(d["n"]),
                    )
                )
                uow.commit()
            except IdempotencyKeyInUseError as exc:
                outcomes.append(exc)

    first = threading.Thread(target=worker, args=(slow_execute,))
    first.start()
    assert started.wait(timeout=10)

    def second_execute() -> int:
        calls.append("second")
        return 0

    second = threading.Thread(target=worker, args=(second_execute,))
    second.start()
    second.join(timeout=10)
    release.set()
    first.join(timeout=10)
    assert calls == ["run"]
    assert isinstance(outcomes[0], IdempotencyKeyInUseError)
    assert outcomes[1] == 42


@pytest.mark.parametrize("key", ["", "   ", "k" * 256])
def test_bad_keys_are_rejected(memory: MemoryStorage, key: str) -> None:
    with memory.unit_of_work() as uow, pytest.raises(ValidationError):
        run_idempotent(
            uow,
            key=key,
            operation="op",
            request={},
            execute=lambda: 1,
            dump=lambda n: {"n": n},
            load=lambda d: int(d["n"]),
        )


def test_delete_before_forgets_old_keys(memory: MemoryStorage) -> None:
    calls: list[str] = []
    with memory.unit_of_work() as uow:
        _create_product(uow, "key-1", {"name": "Course"}, calls)
        uow.commit()
    with memory.unit_of_work() as uow:
        assert uow.idempotency.delete_before(datetime(2026, 1, 1, tzinfo=UTC)) == 0
        assert uow.idempotency.delete_before(datetime(2026, 3, 1, tzinfo=UTC)) == 1
        uow.commit()
    with memory.unit_of_work() as uow:
        assert uow.idempotency.get("key-1") is None
