"""The Stripe gateway, on the official ``stripe`` SDK's :class:`stripe.StripeClient`.

One client per gateway instance (no ``stripe.api_key`` global), so several tenants can run in
one process. Every mutating call forwards the caller's idempotency key as Stripe's
``Idempotency-Key``. Declines come back as :class:`PaymentResult` outcomes (``failed`` with
the decline code) because Stripe returns the PaymentIntent with the card error; other
failures are raised as lms-billing errors (see :func:`.stripe_mapping.map_stripe_error`).

The SDK is configured with its ``requests``-based HTTP client by default, which keeps the
transport mockable with ``responses`` in tests. ``base_url`` points the client at another
server (localstripe, stripe-mock) in integration tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar

import stripe

from lms_billing.clock import Clock, SystemClock
from lms_billing.domain.customers import CustomerProfile
from lms_billing.domain.payments import (
    BalanceTransaction,
    CaptureMethod,
    GatewayCustomer,
    PaymentMethodDetails,
    PaymentRequest,
    PaymentResult,
    Payout,
    RefundRequest,
    RefundResult,
    SetupResult,
    WebhookEvent,
)
from lms_billing.errors import ConfigurationError, WebhookSignatureError
from lms_billing.providers._common import DEFAULT_WEBHOOK_TOLERANCE, header
from lms_billing.providers.stripe_mapping import (
    balance_transaction_from_stripe,
    customer_from_stripe,
    event_from_stripe,
    map_stripe_error,
    payment_from_stripe,
    payment_method_from_stripe,
    payout_from_stripe,
    refund_from_stripe,
    setup_from_stripe,
)
from lms_billing.providers.webhook_signing import verify_signature_header

T = TypeVar("T")

SIGNATURE_HEADER = "Stripe-Signature"

# Expanding the latest charge and its balance transaction returns Radar's outcome and the
# settlement (currency, FX rate, fee) in the same round trip.
PAYMENT_EXPAND = ("latest_charge.balance_transaction",)


def _plain(obj: Any) -> dict[str, Any]:
    data: dict[str, Any] = obj.to_dict()
    return data


class StripeGateway:
    """A :class:`~lms_billing.ports.PaymentGateway` for Stripe.

    :param api_key: a secret (``sk_...``) or restricted (``rk_...``) key.
    :param webhook_secret: the endpoint's signing secret (``whsec_...``).
    :param http_client: defaults to ``stripe.RequestsClient()``.
    :param base_url: overrides Stripe's API address (tests: localstripe, stripe-mock).
    :param payment_method_types: sent with every PaymentIntent (default ``["card"]``).
    :param expand: what to expand on PaymentIntents (default :data:`PAYMENT_EXPAND`); pass
        ``()`` for servers that do not support nested expansion.
    :param clock: "now" for the webhook tolerance window (pass the service's clock).
    """

    def __init__(
        self,
        api_key: str,
        *,
        webhook_secret: str | None = None,
        name: str = "stripe",
        http_client: stripe.HTTPClient | None = None,
        base_url: str | None = None,
        stripe_version: str | None = None,
        max_network_retries: int = 2,
        webhook_tolerance: timedelta = DEFAULT_WEBHOOK_TOLERANCE,
        payment_method_types: Sequence[str] = ("card",),
        expand: Sequence[str] = PAYMENT_EXPAND,
        clock: Clock | None = None,
    ) -> None:
        self.name = name
        self._webhook_secret = webhook_secret
        self._tolerance = webhook_tolerance
        self._clock = clock or SystemClock()
        self._payment_method_types = list(payment_method_types)
        self._expand = list(expand)
        self.client = stripe.StripeClient(
            api_key,
            http_client=http_client or stripe.RequestsClient(),
            base_addresses={"api": base_url} if base_url else None,
            stripe_version=stripe_version,
            max_network_retries=max_network_retries,
        )

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except stripe.StripeError as exc:
            raise map_stripe_error(exc, self.name) from exc

    def _call(self, fn: Callable[[], T]) -> T:
        with self._errors():
            return fn()

    @staticmethod
    def _options(idempotency_key: str) -> stripe.RequestOptions:
        return {"idempotency_key": idempotency_key}

    def _expand_params(self) -> dict[str, Any]:
        return {"expand": list(self._expand)} if self._expand else {}

    # --- customers and payment methods ------------------------------------------------------

    @staticmethod
    def _customer_params(customer: CustomerProfile) -> dict[str, Any]:
        params: dict[str, Any] = {
            "metadata": {"external_id": customer.external_id},
            "preferred_locales": [customer.locale.replace("_", "-")],
        }
        if customer.email:
            params["email"] = customer.email
        if customer.name:
            params["name"] = customer.name
        if customer.address is not None:
            params["address"] = {
                k: v for k, v in customer.address.model_dump().items() if v is not None
            }
        return params

    def create_customer(
        self, customer: CustomerProfile, *, idempotency_key: str
    ) -> GatewayCustomer:
        """``POST /v1/customers``; the LMS id is kept in ``metadata.external_id``."""
        params: Any = self._customer_params(customer)
        created = self._call(
            lambda: self.client.v1.customers.create(params, self._options(idempotency_key))
        )
        return customer_from_stripe(_plain(created), self.name)

    def update_customer(
        self, gateway_customer_id: str, customer: CustomerProfile, *, idempotency_key: str
    ) -> GatewayCustomer:
        """``POST /v1/customers/:id`` with the profile's current email, name and address."""
        params: Any = self._customer_params(customer)
        updated = self._call(
            lambda: self.client.v1.customers.update(
                gateway_customer_id, params, self._options(idempotency_key)
            )
        )
        return customer_from_stripe(_plain(updated), self.name)

    def set_default_payment_method(
        self, gateway_customer_id: str, payment_method_id: str, *, idempotency_key: str
    ) -> GatewayCustomer:
        """Make a saved payment method the default (``invoice_settings``) for renewals."""
        params: Any = {"invoice_settings": {"default_payment_method": payment_method_id}}
        updated = self._call(
            lambda: self.client.v1.customers.update(
                gateway_customer_id, params, self._options(idempotency_key)
            )
        )
        return customer_from_stripe(_plain(updated), self.name)

    def attach_payment_method(
        self, gateway_customer_id: str, token: str, *, idempotency_key: str
    ) -> PaymentMethodDetails:
        """``POST /v1/payment_methods/:id/attach``. Prefer :meth:`create_setup` for cards
        that will be charged off session: it runs the SCA check when saving."""
        params: Any = {"customer": gateway_customer_id}
        attached = self._call(
            lambda: self.client.v1.payment_methods.attach(
                token, params, self._options(idempotency_key)
            )
        )
        return payment_method_from_stripe(_plain(attached), self.name)

    def detach_payment_method(self, payment_method_id: str, *, idempotency_key: str) -> None:
        """``POST /v1/payment_methods/:id/detach``."""
        self._call(
            lambda: self.client.v1.payment_methods.detach(
                payment_method_id, None, self._options(idempotency_key)
            )
        )

    def retrieve_payment_method(self, payment_method_id: str) -> PaymentMethodDetails:
        found = self._call(lambda: self.client.v1.payment_methods.retrieve(payment_method_id))
        return payment_method_from_stripe(_plain(found), self.name)

    def create_setup(
        self,
        gateway_customer_id: str,
        *,
        idempotency_key: str,
        payment_method: str | None = None,
        return_url: str | None = None,
    ) -> SetupResult:
        """Create a SetupIntent to save a card for off-session use (``usage=off_session``).

        Without ``payment_method`` the front end confirms it with ``client_secret``; with one,
        it is confirmed here and may come back ``requires_action`` (3-D Secure).
        """
        params: dict[str, Any] = {
            "customer": gateway_customer_id,
            "usage": "off_session",
            "payment_method_types": list(self._payment_method_types),
        }
        if payment_method is not None:
            params.update(payment_method=payment_method, confirm=True)
            if return_url is not None:
                params["return_url"] = return_url
        sent: Any = params
        created = self._call(
            lambda: self.client.v1.setup_intents.create(sent, self._options(idempotency_key))
        )
        return setup_from_stripe(_plain(created), self.name)

    def retrieve_setup(self, setup_id: str) -> SetupResult:
        found = self._call(lambda: self.client.v1.setup_intents.retrieve(setup_id))
        return setup_from_stripe(_plain(found), self.name)

    # --- payments --------------------------------------------------------------------------

    def _payment_or_decline(self, fn: Callable[[], Any]) -> PaymentResult:
        """Run a PaymentIntent call; a card error carrying the intent becomes an outcome."""
        try:
            return payment_from_stripe(_plain(fn()), self.name)
        except stripe.CardError as exc:
            intent = exc.error.payment_intent if exc.error is not None else None
            if intent is None:
                raise map_stripe_error(exc, self.name) from exc
            return payment_from_stripe(_plain(intent), self.name)
        except stripe.StripeError as exc:
            raise map_stripe_error(exc, self.name) from exc

    def create_payment(self, request: PaymentRequest) -> PaymentResult:
        """``POST /v1/payment_intents`` (confirmed at once unless ``request.confirm`` is off).

        ``off_session=True`` charges a saved card without the customer (renewals); a card
        that needs authentication then fails with ``authentication_required``.
        """
        params: dict[str, Any] = {
            "amount": request.amount,
            "currency": request.currency.lower(),
            "payment_method_types": list(self._payment_method_types),
            "capture_method": "manual"
            if request.capture_method is CaptureMethod.MANUAL
            else "automatic",
            "metadata": dict(request.metadata),
            **self._expand_params(),
        }
        optional = {
            "customer": request.customer_id,
            "payment_method": request.payment_method,
            "description": request.description,
            "statement_descriptor_suffix": request.statement_descriptor,
            "receipt_email": request.receipt_email,
        }
        params.update({k: v for k, v in optional.items() if v is not None})
        if request.confirm:
            params["confirm"] = True
            if request.off_session:
                params["off_session"] = True
            elif request.return_url is not None:
                params["return_url"] = request.return_url
        elif request.off_session:
            params["setup_future_usage"] = "off_session"
        sent: Any = params
        options = self._options(request.idempotency_key)
        return self._payment_or_decline(
            lambda: self.client.v1.payment_intents.create(sent, options)
        )

    def confirm_payment(self, payment_id: str, *, idempotency_key: str) -> PaymentResult:
        """``POST /v1/payment_intents/:id/confirm``."""
        params: Any = self._expand_params()
        options = self._options(idempotency_key)
        return self._payment_or_decline(
            lambda: self.client.v1.payment_intents.confirm(payment_id, params, options)
        )

    def capture_payment(
        self, payment_id: str, amount_minor: int | None, *, idempotency_key: str
    ) -> PaymentResult:
        """``POST /v1/payment_intents/:id/capture``; a partial capture releases the rest."""
        params: dict[str, Any] = self._expand_params()
        if amount_minor is not None:
            params["amount_to_capture"] = amount_minor
        sent: Any = params
        options = self._options(idempotency_key)
        return self._payment_or_decline(
            lambda: self.client.v1.payment_intents.capture(payment_id, sent, options)
        )

    def cancel_payment(self, payment_id: str, *, idempotency_key: str) -> PaymentResult:
        """``POST /v1/payment_intents/:id/cancel``."""
        params: Any = self._expand_params()
        options = self._options(idempotency_key)
        return self._payment_or_decline(
            lambda: self.client.v1.payment_intents.cancel(payment_id, params, options)
        )

    def retrieve_payment(self, payment_id: str) -> PaymentResult:
        """``GET /v1/payment_intents/:id``: what services verify before marking paid."""
        params: Any = self._expand_params()
        return self._payment_or_decline(
            lambda: self.client.v1.payment_intents.retrieve(payment_id, params)
        )

    # --- refunds ---------------------------------------------------------------------------

    def refund(self, request: RefundRequest) -> RefundResult:
        """``POST /v1/refunds`` against the PaymentIntent (all of it when no amount)."""
        params: dict[str, Any] = {
            "payment_intent": request.payment_id,
            "metadata": dict(request.metadata),
        }
        if request.amount is not None:
            params["amount"] = request.amount
        if request.reason is not None:
            params["reason"] = request.reason.value
        sent: Any = params
        created = self._call(
            lambda: self.client.v1.refunds.create(sent, self._options(request.idempotency_key))
        )
        result = refund_from_stripe(_plain(created), self.name)
        if not result.payment_id:
            result = result.model_copy(update={"payment_id": request.payment_id})
        return result

    # --- reconciliation --------------------------------------------------------------------

    def retrieve_balance_transaction(self, transaction_id: str) -> BalanceTransaction:
        found = self._call(lambda: self.client.v1.balance_transactions.retrieve(transaction_id))
        return balance_transaction_from_stripe(_plain(found), self.name)

    def list_balance_transactions(
        self,
        *,
        created_after: datetime | None = None,
        payout_id: str | None = None,
        limit: int = 100,
    ) -> list[BalanceTransaction]:
        """Balance transactions (newest first), e.g. everything settled in one payout."""
        params: dict[str, Any] = {"limit": limit}
        if created_after is not None:
            params["created"] = {"gte": int(created_after.timestamp())}
        if payout_id is not None:
            params["payout"] = payout_id
        sent: Any = params
        page = self._call(lambda: self.client.v1.balance_transactions.list(sent))
        return [balance_transaction_from_stripe(_plain(item), self.name) for item in page.data]

    def list_payouts(
        self, *, created_after: datetime | None = None, limit: int = 100
    ) -> list[Payout]:
        """Payouts to the bank (newest first)."""
        params: dict[str, Any] = {"limit": limit}
        if created_after is not None:
            params["created"] = {"gte": int(created_after.timestamp())}
        sent: Any = params
        page = self._call(lambda: self.client.v1.payouts.list(sent))
        return [payout_from_stripe(_plain(item), self.name) for item in page.data]

    # --- webhooks --------------------------------------------------------------------------

    def parse_webhook(self, payload: bytes, headers: dict[str, str]) -> WebhookEvent:
        """Verify ``Stripe-Signature`` with Stripe's scheme (``t=...,v1=...``: HMAC-SHA256
        of ``"{t}.{raw body}"`` keyed by the endpoint secret; any ``v1`` may match while a
        secret is rolled), then normalize the event.

        The timestamp must lie within ``webhook_tolerance`` of the injected clock's now, in
        the past (replays) *and* in the future (a forged or mis-dated delivery); Stripe's
        own verifier only checks the past, against the wall clock.

        :raises WebhookSignatureError: missing secret or header, bad signature, or a
            timestamp outside the tolerance window.
        """
        if not self._webhook_secret:
            raise WebhookSignatureError("No Stripe webhook secret is configured.")
        try:
            verify_signature_header(
                payload,
                header(headers, SIGNATURE_HEADER),
                self._webhook_secret,
                now=self._clock.now(),
                tolerance=self._tolerance,
            )
        except WebhookSignatureError as exc:
            raise WebhookSignatureError(exc.message, provider=self.name, **exc.details) from exc
        try:
            event: dict[str, Any] = json.loads(payload)
        except ValueError as exc:
            raise WebhookSignatureError("The webhook body is not JSON.") from exc
        return event_from_stripe(event, self.name)


def stripe_gateway_from_env(environ: dict[str, str]) -> StripeGateway:
    """Build a gateway from ``STRIPE_API_KEY`` and ``STRIPE_WEBHOOK_SECRET``.

    Pass ``dict(os.environ)`` explicitly: the library reads no globals itself.
    """
    api_key = environ.get("STRIPE_API_KEY")
    if not api_key:
        raise ConfigurationError("STRIPE_API_KEY is not set.")
    return StripeGateway(api_key, webhook_secret=environ.get("STRIPE_WEBHOOK_SECRET"))


__all__ = [
    "PAYMENT_EXPAND",
    "SIGNATURE_HEADER",
    "StripeGateway",
    "stripe_gateway_from_env",
]
