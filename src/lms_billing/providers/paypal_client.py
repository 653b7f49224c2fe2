"""PayPal's server SDK client, shared by the PayPal gateway's parts: configuration, error
translation (SDK and transport failures to lms-billing errors) and JSON bodies.

The SDK uses ``requests`` underneath (apimatic's requests adapter), so tests mock it with
``responses``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import requests
from paypalserversdk.configuration import Environment
from paypalserversdk.exceptions.api_exception import ApiException
from paypalserversdk.http.auth.o_auth_2 import ClientCredentialsAuthCredentials
from paypalserversdk.paypal_serversdk_client import PaypalServersdkClient

from lms_billing.clock import Clock, SystemClock
from lms_billing.errors import (
    AuthenticationRequiredError,
    BillingError,
    ConfigurationError,
    PaymentDeclinedError,
    ProviderError,
    ProviderInvalidRequestError,
    ProviderUnavailableError,
)

# PayPal issues that mean "the buyer's funding was declined", not a broken request.
DECLINE_ISSUES = frozenset(
    {"INSTRUMENT_DECLINED", "TRANSACTION_REFUSED", "PAYER_CANNOT_PAY", "CARD_EXPIRED"}
)
# The buyer must act at PayPal (approve again, 3-D Secure) before the payment can continue.
PAYER_ACTION_ISSUES = frozenset({"PAYER_ACTION_REQUIRED"})


def json_body(response: Any) -> dict[str, Any]:
    text = getattr(response, "text", None)
    if not text:
        return {}
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def map_paypal_error(exc: Exception, provider: str = "paypal") -> BillingError:
    """Translate an SDK or transport failure into an lms-billing error.

    422 with a decline issue (``INSTRUMENT_DECLINED``...) -> :class:`PaymentDeclinedError`;
    ``PAYER_ACTION_REQUIRED`` -> :class:`AuthenticationRequiredError`;
    401 -> :class:`ConfigurationError`; 5xx, 429 and connection failures ->
    :class:`ProviderUnavailableError`; other 4xx -> :class:`ProviderInvalidRequestError`.
    """
    if isinstance(exc, requests.RequestException):
        return ProviderUnavailableError(f"PayPal is unreachable: {exc}", provider=provider)
    if not isinstance(exc, ApiException):
        return ProviderError(str(exc), provider=provider)
    status = int(getattr(exc, "response_code", 0) or 0)
    body = json_body(getattr(exc, "response", None))
    details = body.get("details") or [{}]
    issue = details[0].get("issue") if isinstance(details[0], dict) else None
    context: dict[str, Any] = {
        "provider": provider,
        "provider_code": issue or body.get("name"),
        "request_id": body.get("debug_id"),
        "http_status": status or None,
    }
    message = str(body.get("message") or getattr(exc, "reason", "") or "PayPal error")
    if issue in DECLINE_ISSUES:
        return PaymentDeclinedError(message, decline_code=str(issue).lower(), **context)
    if issue in PAYER_ACTION_ISSUES:
        return AuthenticationRequiredError(message, **context)
    if status == 401:
        return ConfigurationError(f"PayPal rejected the credentials: {message}", **context)
    if status >= 500 or status == 429:
        return ProviderUnavailableError(message, **context)
    if 400 <= status < 500:
        return ProviderInvalidRequestError(message, **context)
    return ProviderError(message, **context)


class PayPalClient:
    """The configured SDK client and the helpers every PayPal call uses.

    :param client_id: REST app client id. :param client_secret: its secret.
    :param webhook_id: the id of the webhook subscription (for signature verification).
    :param environment: ``"sandbox"`` (default) or ``"production"``.
    :param brand_name: shown to the buyer on PayPal's approval page.
    :param clock: "now" for the webhook replay window and the reporting date range.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        webhook_id: str | None = None,
        environment: str = "sandbox",
        name: str = "paypal",
        brand_name: str | None = None,
        timeout: int = 30,
        clock: Clock | None = None,
        webhook_tolerance: timedelta = timedelta(minutes=10),
    ) -> None:
        if environment not in ("sandbox", "production"):
            raise ConfigurationError(f"Unknown PayPal environment {environment!r}.")
        self.name = name
        self._webhook_id = webhook_id
        self._brand_name = brand_name
        self._timeout = timeout
        self._clock = clock or SystemClock()
        self._tolerance = webhook_tolerance
        self.client = PaypalServersdkClient(
            client_credentials_auth_credentials=ClientCredentialsAuthCredentials(
                o_auth_client_id=client_id, o_auth_client_secret=client_secret
            ),
            environment=Environment.PRODUCTION
            if environment == "production"
            else Environment.SANDBOX,
            timeout=timeout,
        )
        self._session = requests.Session()

    @property
    def base_url(self) -> str:
        return str(self.client.config.get_base_uri())

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except (ApiException, requests.RequestException) as exc:
            raise map_paypal_error(exc, self.name) from exc

    def _json(self, call: Callable[[], Any]) -> dict[str, Any]:
        with self._errors():
            return json_body(call())

    def _order(self, order_id: str) -> dict[str, Any]:
        return self._json(lambda: self.client.orders.get_order({"id": order_id}))


__all__ = [
    "DECLINE_ISSUES",
    "PAYER_ACTION_ISSUES",
    "PayPalClient",
    "json_body",
    "map_paypal_error",
]
