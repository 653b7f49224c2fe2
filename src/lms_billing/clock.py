"""Injectable time. The core never reads the system clock; services ask a :class:`Clock`.

Use :class:`SystemClock` in production and :class:`TestClock` in tests and demos to move
simulated time forward across billing periods, like Stripe's test clocks.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from lms_billing.errors import ValidationError


@runtime_checkable
class Clock(Protocol):
    """Anything with ``now()`` returning an aware UTC ``datetime``."""

    def now(self) -> datetime: ...


def ensure_aware(moment: datetime, *, name: str = "datetime") -> datetime:
    """Normalize to UTC; naive datetimes are rejected because their zone is a guess."""
    if type(moment) is datetime and moment.tzinfo is UTC:
        # Fast path (the billing run calls this dozens of times per invoice): a plain datetime
        # already in UTC is aware and astimezone(UTC) would return it unchanged.
        return moment
    if not isinstance(moment, datetime):
        raise ValidationError(f"{name} must be a datetime, got {type(moment).__name__}.")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationError(f"{name} must be timezone-aware.", value=moment.isoformat())
    return moment.astimezone(UTC)


class SystemClock:
    """The real time, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class TestClock:
    """A clock that only moves when told to. Thread-safe; never goes backwards.

    >>> clock = TestClock(datetime(2026, 1, 31, tzinfo=UTC))
    >>> clock.advance(days=1).date().isoformat()
    '2026-02-01'
    """

    __test__ = False  # not a pytest test class despite the name

    def __init__(self, start: datetime | None = None) -> None:
        initial = start if start is not None else datetime(2026, 1, 1, tzinfo=UTC)
        self._now = ensure_aware(initial, name="start")
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(
        self,
        delta: timedelta | None = None,
        *,
        days: float = 0,
        hours: float = 0,
        minutes: float = 0,
        seconds: float = 0,
    ) -> datetime:
        """Move forward by ``delta`` or by the keyword amounts; returns the new now."""
        step = (delta or timedelta()) + timedelta(
            days=days, hours=hours, minutes=minutes, seconds=seconds
        )
        if step < timedelta(0):
            raise ValidationError("A test clock cannot move backwards.")
        with self._lock:
            self._now = self._now + step
            return self._now

    def set(self, moment: datetime) -> datetime:
        """Jump to ``moment``, which must not be earlier than now."""
        target = ensure_aware(moment, name="moment")
        with self._lock:
            if target < self._now:
                raise ValidationError(
                    "A test clock cannot move backwards.",
                    now=self._now.isoformat(),
                    requested=target.isoformat(),
                )
            self._now = target
            return self._now

    def __repr__(self) -> str:
        return f"TestClock({self._now.isoformat()})"


__all__ = ["Clock", "SystemClock", "TestClock", "ensure_aware"]
