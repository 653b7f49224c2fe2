"""Idempotency keys: a mutating call repeated with the same key returns the first result.

Semantics (like Stripe's ``Idempotency-Key``):

* First call: the key is claimed, ``execute()`` runs and its result, ``dump``-ed to a JSON
  dict, is stored in the **same transaction** as the call's own writes. Nothing is stored
  until the caller commits the unit of work; if the call fails, the claim is released.
* Replay (same key, same operation, same request): ``execute`` does not run; the stored
  result is ``load``-ed and returned.
* Same key, different operation or request: :class:`IdempotencyKeyMismatchError`.
* Same key while the first call is still running in another unit of work:
  :class:`IdempotencyKeyInUseError` (retry later; the first call decides the result).

Requests are compared by a SHA-256 hash of their canonical JSON (sorted keys, no spaces).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel

from lms_billing.clock import Clock, SystemClock
from lms_billing.errors import (
    IdempotencyKeyInUseError,
    IdempotencyKeyMismatchError,
    ValidationError,
)
from lms_billing.storage.base import UnitOfWork

T = TypeVar("T")

MAX_KEY_LENGTH = 255
MAX_OPERATION_LENGTH = 100


def _canonical_default(value: object) -> object:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    raise ValidationError(
        f"Cannot hash a request containing {type(value).__name__}.", type=type(value).__name__
    )


def request_hash(request: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the request's canonical JSON: sorted keys, compact separators."""
    text = json.dumps(
        request,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=_canonical_default,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_text(value: object, *, name: str, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise ValidationError(
            f"{name} must be a non-empty string of at most {max_length} characters.",
            **{name: repr(value)[:50]},
        )
    return value


def run_idempotent(
    uow: UnitOfWork,
    *,
    key: str,
    operation: str,
    request: Mapping[str, Any],
    execute: Callable[[], T],
    dump: Callable[[T], dict[str, Any]],
    load: Callable[[dict[str, Any]], T],
    clock: Clock | None = None,
) -> T:
    """Run ``execute`` once per idempotency ``key``; replays return the stored result.

    :param uow: the unit of work the call's writes go through; the caller commits it.
    :param key: the caller's idempotency key (1-255 characters).
    :param operation: what is being done (``"customers.create"``); a key belongs to one.
    :param request: the call's parameters, hashed canonically to detect reuse.
    :param execute: does the work (once); its writes should use ``uow`` too.
    :param dump: turns the result into a JSON-friendly dict to store.
    :param load: rebuilds a result from a stored dict.
    :param clock: timestamps the record (default: the system clock).
    :raises IdempotencyKeyMismatchError: the key was used for another operation or request.
    :raises IdempotencyKeyInUseError: the first call with this key is still running.
    """
    _check_text(key, name="key", max_length=MAX_KEY_LENGTH)
    _check_text(operation, name="operation", max_length=MAX_OPERATION_LENGTH)
    digest = request_hash(request)
    now = (clock or SystemClock()).now()
    existing = uow.idempotency.claim(key, operation=operation, request_hash=digest, now=now)
    if existing is not None:
        if existing.operation != operation or existing.request_hash != digest:
            raise IdempotencyKeyMismatchError(
                key=key, operation=operation, first_operation=existing.operation
            )
        if existing.response is None:
            raise IdempotencyKeyInUseError(key=key)
        return load(existing.response)
    try:
        result = execute()
    except BaseException:
        # The call failed: free the key so a retry runs again (errors are not replayed).
        uow.idempotency.release(key)
        raise
    uow.idempotency.complete(key, response=dump(result), now=now)
    return result


__all__ = ["MAX_KEY_LENGTH", "MAX_OPERATION_LENGTH", "request_hash", "run_idempotent"]
