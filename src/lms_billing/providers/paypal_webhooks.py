"""PayPal webhooks: verified by PayPal itself (``/v1/notifications/verify-webhook-signature``;
PayPal signs with RSA certificates, so there is no offline HMAC check), then normalized."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from lms_billing.domain.payments import WebhookEvent
from lms_billing.errors import (
    ConfigurationError,
    ProviderUnavailableError,
    WebhookSignatureError,
)
from lms_billing.providers._common import header
from lms_billing.providers.paypal_client import PayPalClient
from lms_billing.providers.paypal_mapping import event_from_paypal, parse_time

WEBHOOK_HEADERS = {
    "auth_algo": "PAYPAL-AUTH-ALGO",
    "cert_url": "PAYPAL-CERT-URL",
    "transmission_id": "PAYPAL-TRANSMISSION-ID",
    "transmission_sig": "PAYPAL-TRANSMISSION-SIG",
    "transmission_time": "PAYPAL-TRANSMISSION-TIME",
}


class _Headers:
    """Collects headers the SDK's OAuth manager applies (for the notifications call)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def add_header(self, name: str, value: str) -> None:
        self.values[name] = value


class PayPalWebhooks(PayPalClient):
    """``parse_webhook`` of the PayPal gateway."""

    def parse_webhook(self, payload: bytes, headers: dict[str, str]) -> WebhookEvent:
        """Verify with PayPal (``/v1/notifications/verify-webhook-signature``) and normalize.

        Deliveries whose ``PAYPAL-TRANSMISSION-TIME`` is older than the tolerance window are
        rejected before asking PayPal (replays).

        :raises WebhookSignatureError: missing headers or webhook id, stale transmission,
            or PayPal answering ``FAILURE``.
        """
        if not self._webhook_id:
            raise WebhookSignatureError("No PayPal webhook_id is configured.")
        fields: dict[str, str] = {}
        for field, name in WEBHOOK_HEADERS.items():
            value = header(headers, name)
            if not value:
                raise WebhookSignatureError(f"The {name} header is missing.", provider=self.name)
            fields[field] = value
        sent_at = parse_time(fields["transmission_time"])
        if sent_at is None or abs(self._clock.now() - sent_at) > self._tolerance:
            raise WebhookSignatureError(
                "The PayPal transmission time is outside the tolerance window.",
                provider=self.name,
            )
        try:
            event: dict[str, Any] = json.loads(payload)
        except ValueError as exc:
            raise WebhookSignatureError("The webhook body is not JSON.") from exc
        verdict = self._verify({**fields, "webhook_id": self._webhook_id, "webhook_event": event})
        if verdict != "SUCCESS":
            raise WebhookSignatureError(
                "PayPal did not verify the webhook signature.",
                provider=self.name,
                verification_status=verdict,
            )
        return event_from_paypal(event, self.name)

    def _verify(self, body: dict[str, Any]) -> str:
        auth = _Headers()
        with self._errors():
            oauth = self.client.auth_managers["Oauth2"]
            if not oauth.is_valid():
                raise ConfigurationError("PayPal did not issue an access token.")
            oauth.apply(auth)
            response = self._session.post(
                f"{self.base_url}/v1/notifications/verify-webhook-signature",
                json=body,
                headers=auth.values,
                timeout=self._timeout,
            )
        if response.status_code >= 500:
            raise ProviderUnavailableError(
                "PayPal could not verify the webhook now.",
                provider=self.name,
                http_status=response.status_code,
            )
        if response.status_code >= 400:
            raise WebhookSignatureError(
                "PayPal rejected the verification request.",
                provider=self.name,
                http_status=response.status_code,
            )
        return str(response.json().get("verification_status"))


def transmission_time(moment: datetime) -> str:
    """Format a time as PayPal's ``PAYPAL-TRANSMISSION-TIME`` header does."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


__all__ = ["WEBHOOK_HEADERS", "PayPalWebhooks", "transmission_time"]
