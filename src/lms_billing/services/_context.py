"""What every application service shares, and the one way services run a mutating call.

A mutating call is one unit of work: the idempotency claim, the writes and the stored result
commit together. Events are handed to plugins (``lms_billing_event`` hooks and every registered
event sink) only after that commit and only when the call really ran (a replay emits nothing),
so a sink never sees a change that was rolled back. Delivery is at most once for now: events
are not stored, so a crash between the commit and the hand-over loses them (the transactional
outbox that will make delivery at-least-once is planned, see docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pydantic
from pydantic import BaseModel

from lms_billing.clock import Clock
from lms_billing.domain.events import Event
from lms_billing.errors import ValidationError
from lms_billing.ids import new_id
from lms_billing.plugins.manager import PluginHost
from lms_billing.services.idempotency import run_idempotent
from lms_billing.settings import BillingSettings
from lms_billing.storage.base import Storage, UnitOfWork

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class ServiceContext:
    """The storage, plugins and clock a :class:`~lms_billing.Billing` wires into services."""

    storage: Storage
    plugins: PluginHost
    clock: Clock
    settings: BillingSettings = field(default_factory=BillingSettings)


class PendingEvents:
    """Events recorded during a call, published once its unit of work has committed."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._events: list[Event] = []

    def record(self, type: str, obj: BaseModel, *, customer_id: str | None = None) -> None:
        self._events.append(
            Event(
                id=new_id("evt"),
                type=type,
                created_at=self._ctx.clock.now(),
                data={"object": obj.model_dump(mode="json")},
                customer_id=customer_id,
            )
        )

    def publish(self) -> None:
        """Hand the recorded events to hooks and sinks (after the commit), then forget them."""
        events, self._events = self._events, []
        self._ctx.plugins.emit_events(events)


@contextmanager
def validating(what: str) -> Iterator[None]:
    """Turn pydantic's errors (missing field, wrong type) into our :class:`ValidationError`.

    Our own validators raise typed errors that pass through unchanged; pydantic wraps only
    its built-in checks, and callers should see one error hierarchy.
    """
    try:
        yield
    except pydantic.ValidationError as exc:
        problems = [
            {"field": ".".join(str(part) for part in error["loc"]), "problem": error["msg"]}
            for error in exc.errors()
        ]
        summary = "; ".join(f"{p['field'] or what}: {p['problem']}" for p in problems)
        raise ValidationError(f"Invalid {what}: {summary}", errors=problems) from None


def mutate(
    ctx: ServiceContext,
    *,
    operation: str,
    idempotency_key: str,
    request: Mapping[str, Any],
    model: type[M],
    execute: Callable[[UnitOfWork, PendingEvents], M],
) -> M:
    """Run ``execute`` once per idempotency key in one committed unit of work.

    :param operation: the use case name (``"products.create"``); a key belongs to one.
    :param request: the call's parameters, compared on replay.
    :param model: the result type, used to store and rebuild the result.
    :param execute: does the work through the unit of work and records events.
    """
    events = PendingEvents(ctx)
    with ctx.storage.unit_of_work() as uow:
        result = run_idempotent(
            uow,
            key=idempotency_key,
            operation=operation,
            request=request,
            execute=lambda: execute(uow, events),
            dump=lambda value: value.model_dump(mode="json"),
            load=model.model_validate,
            clock=ctx.clock,
        )
        uow.commit()
    events.publish()
    return result


__all__ = ["PendingEvents", "ServiceContext", "mutate", "validating"]
