"""Hook implementations, loaded by lms-billing from the ``lms_billing`` entry point."""

from __future__ import annotations

import os

from acme_pay_gateway.gateway import AcmePayGateway
from lms_billing import hookimpl
from lms_billing.ports import PaymentGateway


@hookimpl
def lms_billing_payment_gateways() -> list[PaymentGateway]:
    """Contribute the ``acme_pay`` gateway.

    Credentials come from the environment here to keep the example short; a real service
    would rather build the gateway itself and register it with
    ``lms_billing.providers.plugin.gateway_plugin(...)``.
    """
    return [AcmePayGateway(webhook_secret=os.environ.get("ACME_PAY_WEBHOOK_SECRET", "whsec_acme"))]
