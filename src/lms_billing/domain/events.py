"""Billing events: facts that happened, handed to ``lms_billing_event`` hooks and event sinks
after the change they describe has committed (not stored yet: a transactional outbox is planned).

Event types use Stripe's dotted vocabulary (``invoice.finalized``, ``payment.succeeded``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    type: str = Field(pattern=r"^[a-z_]+(\.[a-z_]+)+$", description="e.g. invoice.finalized")
    created_at: datetime
    data: dict[str, Any] = Field(default_factory=dict)
    customer_id: str | None = None


__all__ = ["Event"]
