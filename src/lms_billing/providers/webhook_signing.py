"""Signing and verifying webhooks with Stripe's scheme, for gateways and plugins.

``Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`` keyed by the
endpoint secret. The sandbox gateway signs its webhooks this way; plugin gateways whose
provider uses the same scheme (many do) can verify with :func:`verify_signature_header`.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from lms_billing.errors import WebhookSignatureError

DEFAULT_WEBHOOK_TOLERANCE = timedelta(minutes=5)  # Stripe's default (300 s)


def compute_signature(payload: bytes, timestamp: int, secret: str) -> str:
    """Stripe's scheme: hex HMAC-SHA256 of ``f"{t}.{payload}"`` keyed by the endpoint secret."""
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(payload: bytes, secret: str, timestamp: int) -> str:
    """A ``t=...,v1=...`` header value, as Stripe sends in ``Stripe-Signature``."""
    return f"t={timestamp},v1={compute_signature(payload, timestamp, secret)}"


def verify_signature_header(
    payload: bytes,
    value: str | None,
    secret: str,
    *,
    now: datetime,
    tolerance: timedelta = DEFAULT_WEBHOOK_TOLERANCE,
) -> int:
    """Verify a ``t=...,v1=...`` header; return its timestamp.

    Every ``v1`` signature is compared in constant time (several are sent while a secret is
    being rolled). Timestamps older than ``tolerance`` are rejected against replays, and so
    are timestamps more than ``tolerance`` in the future.

    :raises WebhookSignatureError: missing or malformed header, no matching signature, or a
        timestamp outside the tolerance window.
    """
    if not value:
        raise WebhookSignatureError("The webhook signature header is missing.")
    timestamp: int | None = None
    signatures: list[str] = []
    for item in value.split(","):
        key, _, part = item.strip().partition("=")
        if key == "t" and part.isdigit():
            timestamp = int(part)
        elif key == "v1" and part:
            signatures.append(part)
    if timestamp is None or not signatures:
        raise WebhookSignatureError("The webhook signature header is malformed.")
    expected = compute_signature(payload, timestamp, secret)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise WebhookSignatureError("No webhook signature matches the payload.")
    age = now.timestamp() - timestamp
    if abs(age) > tolerance.total_seconds():
        raise WebhookSignatureError(
            "The webhook timestamp is outside the tolerance window.",
            timestamp=timestamp,
            tolerance_seconds=int(tolerance.total_seconds()),
        )
    return timestamp


__all__ = [
    "DEFAULT_WEBHOOK_TOLERANCE",
    "compute_signature",
    "signature_header",
    "verify_signature_header",
]
