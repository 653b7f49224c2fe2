"""Payment gateway adapters: sandbox (offline), Stripe and PayPal.

Only the sandbox is imported here; the Stripe and PayPal adapters import their SDKs and live in
:mod:`lms_billing.providers.stripe_gateway` and :mod:`lms_billing.providers.paypal_gateway`
(install ``lms-billing[stripe]`` / ``lms-billing[paypal]``).
"""

from lms_billing.providers.sandbox import SandboxGateway, SignedWebhook

__all__ = ["SandboxGateway", "SignedWebhook"]
