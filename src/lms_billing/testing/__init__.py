"""Fakes and helpers for testing code that uses lms-billing, shipped with the library (as
httpx ships ``MockTransport``).

* :func:`sandbox_billing`: a ``Billing`` on ``memory://`` (or a SQLite file) with a
  :class:`~lms_billing.TestClock` and the sandbox gateway on that clock.
* :class:`BillingSimulator`: Stripe-style test clocks; advance simulated time and watch
  renewals, trials ending and dunning, step by step.
* :class:`EventRecorder`: every committed event, in order.
* pytest fixtures in :mod:`lms_billing.testing.fixtures`; enable them in your root
  ``conftest.py`` with ``pytest_plugins = ["lms_billing.testing.fixtures"]``.

Importing this package does not import pytest. See docs/testing.md.
"""

from lms_billing.clock import TestClock
from lms_billing.providers.sandbox import SandboxGateway
from lms_billing.storage.memory import MemoryStorage
from lms_billing.testing.factory import DEFAULT_START, sandbox_billing
from lms_billing.testing.recorder import EventRecorder
from lms_billing.testing.simulation import (
    BillingSimulator,
    SimulationReport,
    SimulationStep,
    StatusChange,
)

__all__ = [
    "DEFAULT_START",
    "BillingSimulator",
    "EventRecorder",
    "MemoryStorage",
    "SandboxGateway",
    "SimulationReport",
    "SimulationStep",
    "StatusChange",
    "TestClock",
    "sandbox_billing",
]
