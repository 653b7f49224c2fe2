"""Gateways reach lms-billing through the plugin hook: the built-in sandbox, configured
Stripe/PayPal gateways, and an installed third-party package (examples/acme_pay_gateway)."""

from __future__ import annotations

import importlib.metadata
import sys
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lms_billing.domain.payments import PaymentRequest, PaymentStatus, WebhookEventType
from lms_billing.errors import WebhookSignatureError
from lms_billing.plugins import PluginHost, get_plugin_manager
from lms_billing.plugins.manager import BUILTIN_PLUGINS
from lms_billing.providers import plugin as builtin_gateways
from lms_billing.providers.paypal_gateway import PayPalGateway
from lms_billing.providers.plugin import gateway_plugin
from lms_billing.providers.sandbox import SandboxGateway
from lms_billing.providers.stripe_gateway import StripeGateway
from lms_billing.providers.webhook_signing import signature_header

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "acme_pay_gateway"


def _manager(*plugins: object, load_entrypoints: bool = False) -> PluginHost:
    """A host with the built-in gateway plugin, whether or not it is in BUILTIN_PLUGINS yet."""
    extra = [] if builtin_gateways.__name__ in BUILTIN_PLUGINS else [builtin_gateways]
    return PluginHost(get_plugin_manager([*extra, *plugins], load_entrypoints=load_entrypoints))


@pytest.fixture
def acme_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The example package, as pip would install it: CI installs it editable
    (scripts/test.sh); otherwise expose its source and entry point from a temporary
    ``.dist-info`` so the real entry-point loading path is exercised either way."""
    try:
        importlib.metadata.distribution("acme-pay-gateway")
    except importlib.metadata.PackageNotFoundError:
        project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
        dist_info = tmp_path / f"acme_pay_gateway-{project['version']}.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
        )
        entry_points = project["entry-points"]["lms_billing"]
        (dist_info / "entry_points.txt").write_text(
            "[lms_billing]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items())
        )
        monkeypatch.syspath_prepend(str(EXAMPLE / "src"))
        monkeypatch.syspath_prepend(str(tmp_path))
    yield
    for module in [m for m in sys.modules if m.startswith("acme_pay_gateway")]:
        monkeypatch.delitem(sys.modules, module)


def test_the_sandbox_is_contributed_by_the_builtin_gateway_plugin() -> None:
    host = _manager()
    gateway = host.payment_gateway("sandbox")
    assert isinstance(gateway, SandboxGateway)
    impl = next(
        i
        for i in host.pm.hook.lms_billing_payment_gateways.get_hookimpls()
        if i.plugin is builtin_gateways
    )
    assert impl.trylast, "built-ins register trylast so plugins can override them"


def test_configured_stripe_and_paypal_gateways_register_through_gateway_plugin() -> None:
    stripe_gateway = StripeGateway("sk_test_x", webhook_secret="whsec_x")
    paypal_gateway = PayPalGateway("id", "secret", webhook_id="WH-1")
    host = _manager(gateway_plugin(stripe_gateway, paypal_gateway))
    gateways = host.payment_gateways()
    assert {"sandbox", "stripe", "paypal"} <= set(gateways)
    assert gateways["stripe"] is stripe_gateway and gateways["paypal"] is paypal_gateway


@pytest.mark.usefixtures("acme_installed")
def test_installed_example_plugin_is_loaded_and_takes_a_payment() -> None:
    host = _manager(load_entrypoints=True)
    gateway = host.payment_gateway("acme_pay")
    assert type(gateway).__module__ == "acme_pay_gateway.gateway"

    paid = gateway.create_payment(
        PaymentRequest(
            amount=4900, currency="EUR", payment_method="acme_tok_ok", idempotency_key="acme-1"
        )
    )
    assert (paid.status, paid.amount_received, paid.gateway) == (
        PaymentStatus.SUCCEEDED,
        4900,
        "acme_pay",
    )
    declined = gateway.create_payment(
        PaymentRequest(
            amount=4900, currency="EUR", payment_method="acme_tok_declined", idempotency_key="a2"
        )
    )
    assert (declined.status, declined.decline_code) == (PaymentStatus.FAILED, "insufficient_funds")

    body = b'{"id":"acme_evt_1","type":"payment.paid","created":1795600000,"payment_id":"p1"}'
    now = int(datetime.now(UTC).timestamp())
    headers = {"Acme-Signature": signature_header(body, "whsec_acme", now)}
    assert gateway.parse_webhook(body, headers).type is WebhookEventType.PAYMENT_SUCCEEDED
    with pytest.raises(WebhookSignatureError):
        gateway.parse_webhook(body.replace(b"p1", b"p2"), headers)
