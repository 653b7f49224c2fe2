"""The built-in gateway plugin: registers the sandbox gateway through the public hook.

It is registered ``trylast`` like every built-in, so an installed plugin can replace it.
Stripe and PayPal need credentials, so they are not registered automatically: a service
registers them with :func:`gateway_plugin` (see docs/payments.md)::

    from lms_billing.plugins import get_plugin_manager
    from lms_billing.providers.plugin import gateway_plugin
    from lms_billing.providers.stripe_gateway import StripeGateway

    stripe_gw = StripeGateway(api_key=..., webhook_secret=...)
    pm = get_plugin_manager([gateway_plugin(stripe_gw)])
"""

from __future__ import annotations

from collections.abc import Sequence

from lms_billing.hookspecs import hookimpl
from lms_billing.ports import PaymentGateway
from lms_billing.providers.sandbox import SandboxGateway


@hookimpl(trylast=True)
def lms_billing_payment_gateways() -> list[PaymentGateway]:
    """The sandbox gateway, always available offline (name ``"sandbox"``)."""
    return [SandboxGateway()]


class GatewayPlugin:
    """A plugin object contributing already-configured gateways (Stripe, PayPal, ...)."""

    def __init__(self, gateways: Sequence[PaymentGateway]) -> None:
        self._gateways = list(gateways)

    @hookimpl
    def lms_billing_payment_gateways(self) -> list[PaymentGateway]:
        return list(self._gateways)

    def __repr__(self) -> str:
        return f"GatewayPlugin({[g.name for g in self._gateways]!r})"


def gateway_plugin(*gateways: PaymentGateway) -> GatewayPlugin:
    """Wrap configured gateways as a plugin for ``get_plugin_manager([...])``."""
    return GatewayPlugin(gateways)


__all__ = ["GatewayPlugin", "gateway_plugin", "lms_billing_payment_gateways"]
