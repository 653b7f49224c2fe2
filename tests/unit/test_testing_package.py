"""lms_billing.testing, the package users test their own code with: the pytest fixtures, the
sandbox_billing factory, EventRecorder, and BillingSimulator's argument checks."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lms_billing import Billing, SystemClock, TestClock, hookimpl
from lms_billing.domain.catalog import ProductProfile
from lms_billing.errors import ConfigurationError, DomainError, ValidationError
from lms_billing.providers.sandbox import SandboxGateway
from lms_billing.storage.memory import MemoryStorage
from lms_billing.storage.sqlalchemy.storage import SQLAlchemyStorage
from lms_billing.testing import (
    DEFAULT_START,
    BillingSimulator,
    EventRecorder,
    sandbox_billing,
)

pytest_plugins = ["lms_billing.testing.fixtures"]


# --- the fixtures, as a user's test sees them ----------------------------------------------


def test_billing_fixture_is_offline_memory_storage_on_the_test_clock(
    billing: Billing, billing_clock: TestClock, sandbox_gateway: SandboxGateway
) -> None:
    assert isinstance(billing.storage, MemoryStorage)
    assert billing.clock is billing_clock and billing_clock.now() == DEFAULT_START
    assert billing.plugins.payment_gateway("sandbox") is sandbox_gateway


def test_the_sandbox_gateway_reads_the_test_clock(
    billing: Billing, billing_clock: TestClock, sandbox_gateway: SandboxGateway
) -> None:
    billing_clock.advance(days=40)
    customer = billing.customers.create({"external_id": "u1"}, idempotency_key="c")
    product = billing.catalog.create_product(name="Python 101", idempotency_key="p")
    price = billing.catalog.create_price(
        product_id=product.id, currency="USD", unit_amount=4900, idempotency_key="pr"
    )
    billing.payments.attach_payment_method(customer.id, "pm_card_visa", idempotency_key="pm")
    draft = billing.invoices.create_draft(customer.id, "USD", idempotency_key="d")
    billing.invoices.add_price_line(draft.id, price.id, idempotency_key="l")
    invoice = billing.invoices.finalize(draft.id, idempotency_key="f")
    payment = billing.payments.pay_invoice(invoice.id, idempotency_key="pay")
    assert payment.status == "succeeded"
    (charge,) = sandbox_gateway.list_balance_transactions()
    assert charge.created == billing_clock.now()  # not the machine's clock


def test_sqlite_billing_is_a_real_migrated_sqlite_file(
    sqlite_billing: Billing, tmp_path: Path
) -> None:
    assert isinstance(sqlite_billing.storage, SQLAlchemyStorage)
    product = sqlite_billing.catalog.create_product(name="Python 101", idempotency_key="p")
    files = list(tmp_path.glob("*.db"))
    assert len(files) == 1
    with Billing(f"sqlite:///{files[0]}", load_entrypoints=False) as reopened:
        assert reopened.catalog.get_product(product.id).name == "Python 101"


def test_billing_events_records_what_the_billing_commits(
    billing: Billing, billing_events: EventRecorder
) -> None:
    product = billing.catalog.create_product(name="Python 101", idempotency_key="p")
    billing.catalog.create_price(
        product_id=product.id, currency="USD", unit_amount=4900, idempotency_key="pr"
    )
    assert billing_events.types == ["product.created", "price.created"]
    assert [e.type for e in billing_events.of_type("price.*")] == ["price.created"]


def test_billing_simulator_fixture_drives_the_billing_clock(
    billing_simulator: BillingSimulator, billing: Billing, billing_clock: TestClock
) -> None:
    assert billing_simulator.billing is billing and billing_simulator.clock is billing_clock
    report = billing_simulator.advance(days=2)
    assert report.at == DEFAULT_START + timedelta(days=2) == billing_clock.now()


class _Courses:
    @hookimpl
    def lms_billing_resolve_product(self, external_id: str) -> ProductProfile:
        return ProductProfile(external_id=external_id, name=f"Course {external_id}")


class TestOverridingTheFixtureInputs:
    """A user's conftest (here: the class) overrides the inputs; the fixtures follow."""

    @pytest.fixture
    def billing_start(self) -> datetime:
        return datetime(2030, 6, 1, tzinfo=UTC)

    @pytest.fixture
    def billing_plugins(self) -> list[object]:
        return [_Courses()]

    def test_start_and_plugins(self, billing: Billing, sqlite_billing: Billing) -> None:
        assert billing.clock.now() == datetime(2030, 6, 1, tzinfo=UTC)
        for each in (billing, sqlite_billing):
            product = each.catalog.import_product("c-1", idempotency_key="import")
            assert product.name == "Course c-1"


def test_fixtures_module_exports_exactly_its_fixtures() -> None:
    import lms_billing.testing.fixtures as fixtures_module  # already loaded by pytest_plugins

    defined = {
        name
        for name, value in vars(fixtures_module).items()
        if hasattr(value, "_fixture_function_marker")
        or type(value).__name__ == "FixtureFunctionDefinition"
    }
    assert defined == set(fixtures_module.__all__)


def test_importing_lms_billing_testing_does_not_import_pytest() -> None:
    code = "import sys, lms_billing.testing; print('pytest' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


# --- sandbox_billing ---------------------------------------------------------------------


def test_sandbox_billing_defaults() -> None:
    with sandbox_billing() as billing:
        assert isinstance(billing.clock, TestClock) and billing.clock.now() == DEFAULT_START
        assert isinstance(billing.storage, MemoryStorage)
        gateway = billing.plugins.payment_gateway("sandbox")
        assert isinstance(gateway, SandboxGateway) and gateway._clock is billing.clock
        # Installed plugins (the example packages are installed here) are not loaded.
        names = {name for name, _ in billing.plugins.pm.list_name_plugin()}
        assert "lms_directory" not in names and "acme_pay" not in names
    with sandbox_billing(load_entrypoints=True) as billing:
        names = {name for name, _ in billing.plugins.pm.list_name_plugin()}
        assert {"lms_directory", "acme_pay"} <= names  # the check above can fail


def test_sandbox_billing_takes_a_clock_or_a_start_not_both() -> None:
    clock = TestClock(datetime(2027, 3, 1, tzinfo=UTC))
    with sandbox_billing(clock=clock) as billing:
        assert billing.clock is clock
    with sandbox_billing(start=datetime(2027, 3, 1, tzinfo=UTC)) as billing:
        assert billing.clock.now() == datetime(2027, 3, 1, tzinfo=UTC)
    with pytest.raises(ConfigurationError):
        sandbox_billing(clock=clock, start=datetime(2027, 3, 1, tzinfo=UTC))


# --- EventRecorder -----------------------------------------------------------------------


def test_event_recorder_attach_detach_and_filter() -> None:
    with sandbox_billing() as billing:
        prices_only = EventRecorder(types=["price.*"]).attach(billing)
        everything = EventRecorder().attach(billing)
        with pytest.raises(ConfigurationError):
            everything.attach(billing)
        product = billing.catalog.create_product(name="Python 101", idempotency_key="p")
        billing.catalog.create_price(
            product_id=product.id, currency="USD", unit_amount=4900, idempotency_key="pr"
        )
        everything.detach()
        billing.catalog.create_product(name="Python 102", idempotency_key="p2")
        assert everything.types == ["product.created", "price.created"]
        assert prices_only.types == ["price.created"]
        everything.clear()
        assert everything.events == []


# --- BillingSimulator: what it refuses -----------------------------------------------------


def test_simulator_needs_a_test_clock() -> None:
    with (
        Billing("memory://", clock=SystemClock(), load_entrypoints=False) as billing,
        pytest.raises(ConfigurationError),
    ):
        BillingSimulator(billing)


def test_simulator_refuses_to_go_backwards_or_take_empty_steps() -> None:
    with sandbox_billing() as billing:
        simulator = BillingSimulator(billing)
        with pytest.raises(ValidationError):
            simulator.advance_to(DEFAULT_START - timedelta(seconds=1))
        with pytest.raises(ValidationError):
            simulator.advance(days=1, step=timedelta(0))
        with pytest.raises(ValidationError):
            simulator.advance(months=-1)
        with pytest.raises(ValidationError):
            simulator.advance_to(datetime(2026, 2, 1))  # naive
        assert billing.clock.now() == DEFAULT_START  # nothing moved


def test_simulator_stops_runaway_simulations() -> None:
    with sandbox_billing() as billing:
        simulator = BillingSimulator(billing, max_steps=5)
        with pytest.raises(DomainError):
            simulator.advance(days=1, step=timedelta(hours=1))


def test_advancing_by_zero_runs_billing_once_now() -> None:
    with sandbox_billing() as billing:
        report = BillingSimulator(billing).advance()
        assert [step.at for step in report.steps] == [DEFAULT_START]
        assert report.steps[0].billing_run.claimed == 0
