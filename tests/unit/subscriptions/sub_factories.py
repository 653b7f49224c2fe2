"""Factories shared by the subscription tests (imported by module name, no fixtures)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lms_billing.domain.subscriptions import Subscription, SubscriptionItem, create_subscription


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def make_item(**overrides: Any) -> SubscriptionItem:
    fields: dict[str, Any] = {
        "id": "si_base",
        "price_id": "price_pro_monthly",
        "quantity": 1,
        "unit_amount": 1000,
        "currency": "USD",
        "interval": "month",
        "interval_count": 1,
    }
    fields.update(overrides)
    return SubscriptionItem(**fields)


def make_sub(**overrides: Any) -> Subscription:
    fields: dict[str, Any] = {
        "id": "sub_1",
        "customer_id": "cus_1",
        "items": [make_item()],
        "at": utc(2024, 4, 1),
        "default_payment_method": "pm_card_visa",
    }
    fields.update(overrides)
    return create_subscription(**fields)
