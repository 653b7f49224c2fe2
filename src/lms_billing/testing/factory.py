"""A ``Billing`` wired for tests: a :class:`TestClock`, the sandbox gateway on that clock, and
no installed plugins unless asked for."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from lms_billing.billing import Billing
from lms_billing.clock import TestClock
from lms_billing.errors import ConfigurationError
from lms_billing.providers.plugin import gateway_plugin
from lms_billing.providers.sandbox import SandboxGateway
from lms_billing.settings import BillingSettings

DEFAULT_START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
"""Where :func:`sandbox_billing`'s test clock starts unless told otherwise (a fixed instant,
so tests and document numbers do not depend on the day they run)."""


def sandbox_billing(
    storage_url: str = "memory://",
    *,
    clock: TestClock | None = None,
    start: datetime | None = None,
    sandbox: SandboxGateway | None = None,
    plugins: Iterable[object] = (),
    settings: BillingSettings | None = None,
    load_entrypoints: bool = False,
) -> Billing:
    """A ``Billing`` for tests, offline: ``memory://`` storage by default (or any URL, such as
    a temporary ``sqlite:///...`` file), a :class:`TestClock` (``clock``, or a new one at
    ``start``, default :data:`DEFAULT_START`), and a :class:`SandboxGateway` named
    ``"sandbox"`` that reads the same clock (it replaces the built-in one, which reads the
    system clock).

    :param plugins: your plugins, registered after the sandbox (so they win resolution hooks).
    :param load_entrypoints: also load installed ``lms_billing`` plugins (off by default:
        tests should not depend on what happens to be installed).
    :raises ConfigurationError: both ``clock`` and ``start`` were given.
    """
    if clock is not None and start is not None:
        raise ConfigurationError("Pass clock= or start=, not both.")
    clock = clock or TestClock(start or DEFAULT_START)
    gateway = sandbox or SandboxGateway(clock=clock)
    return Billing(
        storage_url,
        clock=clock,
        plugins=[gateway_plugin(gateway), *plugins],
        load_entrypoints=load_entrypoints,
        settings=settings,
    )


__all__ = ["DEFAULT_START", "sandbox_billing"]
