"""An event recorder for tests: every committed event a Billing emits, in order."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase

from lms_billing.billing import Billing
from lms_billing.domain.events import Event
from lms_billing.errors import ConfigurationError


class EventRecorder:
    """Collects events; attach it to a ``Billing`` (through ``billing.events``, the built-in
    in-process sink) or use it as any handler: ``recorder(event)`` records ``event``.

    ::

        recorder = EventRecorder().attach(billing)
        billing.catalog.create_product(name="Python 101", idempotency_key="p-1")
        assert recorder.types == ["product.created"]
    """

    __test__ = False

    def __init__(self, types: Iterable[str] | None = None) -> None:
        self.events: list[Event] = []
        self._types = None if types is None else list(types)
        self._detach: Callable[[], None] | None = None

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def attach(self, billing: Billing) -> EventRecorder:
        """Subscribe to ``billing``'s committed events; returns ``self``.

        :raises ConfigurationError: already attached, or a plugin replaced the in-process sink.
        """
        if self._detach is not None:
            raise ConfigurationError("This EventRecorder is already attached to a Billing.")
        self._detach = billing.events.subscribe(self, types=self._types)
        return self

    def detach(self) -> None:
        """Stop recording (the events recorded so far stay)."""
        if self._detach is not None:
            self._detach()
            self._detach = None

    @property
    def types(self) -> list[str]:
        """The recorded event types, in order."""
        return [event.type for event in self.events]

    def of_type(self, pattern: str) -> list[Event]:
        """Recorded events whose type matches ``pattern`` (``"invoice.*"`` style)."""
        return [event for event in self.events if fnmatchcase(event.type, pattern)]

    def clear(self) -> None:
        self.events.clear()

    def __repr__(self) -> str:
        return f"EventRecorder({len(self.events)} events)"


__all__ = ["EventRecorder"]
