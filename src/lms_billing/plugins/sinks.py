"""The built-in in-process event sink: committed events to Python callables in this process.

Registered through ``lms_billing_event_sinks`` with ``trylast=True`` like every built-in, under
the name ``"in_process"``; a plugin that registers a sink of that name replaces it. Each
:class:`~lms_billing.Billing` gets its own sink (``billing.events``)::

    seen = []
    unsubscribe = billing.events.subscribe(seen.append, types=["invoice.*"])
    ...
    unsubscribe()

Delivery is synchronous, in the thread whose call committed, after the commit, and at most once
(see :meth:`~lms_billing.plugins.manager.PluginHost.emit_events`). A handler that raises is
logged and skipped; the other handlers still get the event.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from lms_billing.domain.events import Event
from lms_billing.errors import ValidationError
from lms_billing.hookspecs import hookimpl
from lms_billing.ports import EventSink

IN_PROCESS_SINK = "in_process"

EventHandler = Callable[[Event], object]
"""A callable that receives one committed event; its return value is ignored."""

logger = logging.getLogger("lms_billing.events")


@dataclass(frozen=True, eq=False)
class _Subscription:
    handler: EventHandler
    patterns: tuple[str, ...] | None

    def wants(self, event: Event) -> bool:
        if self.patterns is None:
            return True
        return any(fnmatchcase(event.type, pattern) for pattern in self.patterns)


def _patterns(types: Iterable[str] | None) -> tuple[str, ...] | None:
    if types is None:
        return None
    if isinstance(types, str):
        types = [types]
    patterns = tuple(types)
    if not patterns or not all(isinstance(p, str) and p for p in patterns):
        raise ValidationError(
            "types must be a non-empty list of event types or patterns such as 'invoice.*'.",
            types=repr(types),
        )
    return patterns


class InProcessSink:
    """Hands committed events to subscribed callables in this process.

    Thread-safe: handlers may subscribe and unsubscribe while events are being published
    (a publish uses the subscriptions as they were when it started).
    """

    name = IN_PROCESS_SINK

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: tuple[_Subscription, ...] = ()

    def subscribe(
        self, handler: EventHandler, *, types: Iterable[str] | None = None
    ) -> Callable[[], None]:
        """Call ``handler(event)`` for every committed event, or only for ``types``.

        :param types: event types (``"invoice.finalized"``) or shell-style patterns
            (``"invoice.*"``, ``"customer.subscription.*"``); ``None`` means every event.
        :return: a function that ends this subscription (calling it twice is harmless).
        :raises ValidationError: ``handler`` is not callable or ``types`` is empty.
        """
        if not callable(handler):
            raise ValidationError(f"An event handler must be callable, got {handler!r}.")
        subscription = _Subscription(handler, _patterns(types))
        with self._lock:
            self._subscriptions = (*self._subscriptions, subscription)

        def unsubscribe() -> None:
            with self._lock:
                self._subscriptions = tuple(
                    s for s in self._subscriptions if s is not subscription
                )

        return unsubscribe

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    def publish(self, events: Sequence[Event]) -> None:
        """Deliver ``events`` in order to every interested handler; failures are logged."""
        subscriptions = self._subscriptions
        for event in events:
            for subscription in subscriptions:
                if not subscription.wants(event):
                    continue
                try:
                    subscription.handler(event)
                except Exception:  # one handler must not stop the others
                    logger.exception(
                        "Event handler %r failed on %s (%s); the event is not redelivered.",
                        subscription.handler,
                        event.id,
                        event.type,
                    )

    def __repr__(self) -> str:
        return f"InProcessSink(subscribers={self.subscriber_count})"


@hookimpl(trylast=True)
def lms_billing_event_sinks() -> list[EventSink]:
    """A fresh in-process sink per plugin host (each ``Billing`` has its own subscribers)."""
    return [InProcessSink()]


__all__ = ["IN_PROCESS_SINK", "EventHandler", "InProcessSink", "lms_billing_event_sinks"]
