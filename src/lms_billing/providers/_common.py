"""Helpers shared by the gateway adapters: wire numbers, timestamps, headers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from lms_billing.errors import ValidationError
from lms_billing.providers.webhook_signing import DEFAULT_WEBHOOK_TOLERANCE


def decimal_from_json(value: object) -> Decimal | None:
    """A provider's JSON number (already parsed, maybe as float) as an exact ``Decimal``.

    ``str()`` of a float is its shortest round-tripping repr, i.e. the digits on the wire
    for any rate a provider sends (they send at most ~15 significant digits).
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValidationError("A boolean is not a number.")
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise ValidationError(f"{value!r} is not a number.") from exc


def from_timestamp(value: object) -> datetime | None:
    """Unix seconds (Stripe's ``created``) as an aware UTC datetime."""
    if value is None or isinstance(value, bool) or not isinstance(value, int):
        return None
    return datetime.fromtimestamp(value, tz=UTC)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup (frameworks differ in how they case names)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


__all__ = ["DEFAULT_WEBHOOK_TOLERANCE", "decimal_from_json", "from_timestamp", "header"]
