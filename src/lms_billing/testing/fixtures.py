"""pytest fixtures for testing code that uses lms-billing.

Opt in from your root ``conftest.py``::

    pytest_plugins = ["lms_billing.testing.fixtures"]

(It is not registered as an automatic ``pytest11`` plugin: loading it imports the whole
library, so it would slow down every pytest run in any environment where lms-billing is
installed, and put fixture names such as ``billing`` into unrelated projects.)

Override ``billing_start``, ``billing_plugins`` or ``billing_settings`` in your own
conftest to change what the ``billing`` fixtures are built with.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from lms_billing.billing import Billing
from lms_billing.clock import TestClock
from lms_billing.providers.sandbox import SandboxGateway
from lms_billing.settings import BillingSettings
from lms_billing.testing.factory import DEFAULT_START, sandbox_billing
from lms_billing.testing.recorder import EventRecorder
from lms_billing.testing.simulation import BillingSimulator


@pytest.fixture
def billing_start() -> datetime:
    """Where the test clock starts (default 2026-01-01 09:00 UTC); override to change it."""
    return DEFAULT_START


@pytest.fixture
def billing_clock(billing_start: datetime) -> TestClock:
    """The test clock every ``billing`` fixture and the sandbox gateway share."""
    return TestClock(billing_start)


@pytest.fixture
def billing_plugins() -> list[object]:
    """Extra plugins for the ``billing`` fixtures (none by default); override to add yours."""
    return []


@pytest.fixture
def billing_settings() -> BillingSettings | None:
    """Settings for the ``billing`` fixtures (library defaults); override to change them."""
    return None


@pytest.fixture
def sandbox_gateway(billing_clock: TestClock) -> SandboxGateway:
    """The sandbox gateway (``"sandbox"``) of the ``billing`` fixtures, on the test clock.

    Attach test cards by token: ``billing.payments.attach_payment_method(customer_id,
    "pm_card_visa", ...)``; ``pm_card_chargeDeclinedInsufficientFunds`` declines.
    """
    return SandboxGateway(clock=billing_clock)


def _billing(
    url: str,
    clock: TestClock,
    sandbox: SandboxGateway,
    plugins: list[object],
    settings: BillingSettings | None,
) -> Billing:
    return sandbox_billing(url, clock=clock, sandbox=sandbox, plugins=plugins, settings=settings)


@pytest.fixture
def billing(
    billing_clock: TestClock,
    sandbox_gateway: SandboxGateway,
    billing_plugins: list[object],
    billing_settings: BillingSettings | None,
) -> Iterator[Billing]:
    """A ``Billing`` on fresh in-memory storage, closed after the test."""
    with _billing(
        "memory://", billing_clock, sandbox_gateway, billing_plugins, billing_settings
    ) as opened:
        yield opened


@pytest.fixture
def sqlite_billing(
    tmp_path: Path,
    billing_clock: TestClock,
    sandbox_gateway: SandboxGateway,
    billing_plugins: list[object],
    billing_settings: BillingSettings | None,
) -> Iterator[Billing]:
    """A ``Billing`` on a fresh SQLite file in the test's ``tmp_path`` (migrated), closed
    after the test: real SQL, transactions and migrations, still offline."""
    url = f"sqlite:///{(tmp_path / 'lms-billing.db').as_posix()}"
    with _billing(url, billing_clock, sandbox_gateway, billing_plugins, billing_settings) as opened:
        yield opened


@pytest.fixture
def billing_events(billing: Billing) -> Iterator[EventRecorder]:
    """Every event the ``billing`` fixture commits during the test."""
    recorder = EventRecorder().attach(billing)
    yield recorder
    recorder.detach()


@pytest.fixture
def billing_simulator(billing: Billing) -> Iterator[BillingSimulator]:
    """A :class:`BillingSimulator` driving the ``billing`` fixture's test clock."""
    with BillingSimulator(billing) as simulator:
        yield simulator


__all__ = [
    "billing",
    "billing_clock",
    "billing_events",
    "billing_plugins",
    "billing_settings",
    "billing_simulator",
    "billing_start",
    "sandbox_gateway",
    "sqlite_billing",
]
