"""Arrange steps the gateway tests share."""

from __future__ import annotations

from typing import Any

from lms_billing.domain.payments import PaymentRequest, PaymentResult
from lms_billing.ports import PaymentGateway


def pay(
    gateway: PaymentGateway,
    *,
    amount: int,
    payment_method: str | None = None,
    currency: str = "EUR",
    idempotency_key: str = "k",
    **fields: Any,
) -> PaymentResult:
    """``gateway.create_payment`` for a :class:`PaymentRequest` with these fields."""
    return gateway.create_payment(
        PaymentRequest(
            amount=amount,
            currency=currency,
            payment_method=payment_method,
            idempotency_key=idempotency_key,
            **fields,
        )
    )
