"""Fixtures of the end-to-end tests: a shop on each SQL backend with the sandbox, Stripe and
PayPal gateways registered (the real SDKs; only HTTP is mocked), a strict `responses`
mock (every registered call must happen), and the example gateway plugin package installed
(examples/acme_pay_gateway)."""

from __future__ import annotations

import importlib.metadata
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from lms_billing import TestClock
from lms_billing.providers.paypal_gateway import PayPalGateway
from lms_billing.providers.stripe_gateway import StripeGateway

from .support import NOW, PAYPAL_WEBHOOK_ID, STRIPE_SECRET, Shop, make_shop


def open_shop(storage_url: str, **options: object) -> Shop:
    """A shop whose Stripe and PayPal gateways share its test clock."""
    clock = TestClock(NOW)
    stripe_gateway = StripeGateway(
        "sk_test_e2e", webhook_secret=STRIPE_SECRET, max_network_retries=0, clock=clock
    )
    paypal_gateway = PayPalGateway(
        "client-id", "client-secret", webhook_id=PAYPAL_WEBHOOK_ID, clock=clock
    )
    return make_shop(
        storage_url,
        gateways=(stripe_gateway, paypal_gateway),
        clock=clock,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def shop(storage_url: str) -> Iterator[Shop]:
    """A shop on SQLite, then on PostgreSQL."""
    opened = open_shop(storage_url)
    yield opened
    opened.billing.close()


@pytest.fixture
def memory_shop() -> Iterator[Shop]:
    opened = open_shop("memory://")
    yield opened
    opened.billing.close()


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


EXAMPLE_PLUGIN = Path(__file__).resolve().parents[2] / "examples" / "acme_pay_gateway"


@pytest.fixture
def acme_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The example plugin package, as pip installs it: CI installs it editable; otherwise
    its source and entry point are exposed through a temporary ``.dist-info``, so the real
    entry-point loading path is exercised either way."""
    try:
        importlib.metadata.distribution("acme-pay-gateway")
    except importlib.metadata.PackageNotFoundError:
        project = tomllib.loads((EXAMPLE_PLUGIN / "pyproject.toml").read_text())["project"]
        dist_info = tmp_path / f"acme_pay_gateway-{project['version']}.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
        )
        entry_points = project["entry-points"]["lms_billing"]
        (dist_info / "entry_points.txt").write_text(
            "[lms_billing]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items())
        )
        monkeypatch.syspath_prepend(str(EXAMPLE_PLUGIN / "src"))
        monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for module in [m for m in sys.modules if m.startswith("acme_pay_gateway")]:
        monkeypatch.delitem(sys.modules, module)
