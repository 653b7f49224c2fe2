"""Gateways reach lms-billing through the plugin hook: the built-in sandbox and configured
Stripe/PayPal gateways. The installed third-party package (examples/acme_pay_gateway) is
exercised end to end in tests/e2e/test_gateway_plugin.py."""

from __future__ import annotations

from lms_billing.plugins import PluginHost, get_plugin_manager
from lms_billing.plugins.manager import BUILTIN_PLUGINS
from lms_billing.providers import plugin as builtin_gateways
from lms_billing.providers.paypal_gateway import PayPalGateway
from lms_billing.providers.plugin import gateway_plugin
from lms_billing.providers.sandbox import SandboxGateway
from lms_billing.providers.stripe_gateway import StripeGateway


def _manager(*plugins: object) -> PluginHost:
    """A host with the built-in gateway plugin, whether or not it is in BUILTIN_PLUGINS yet."""
    extra = [] if builtin_gateways.__name__ in BUILTIN_PLUGINS else [builtin_gateways]
    return PluginHost(get_plugin_manager([*extra, *plugins], load_entrypoints=False))


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
