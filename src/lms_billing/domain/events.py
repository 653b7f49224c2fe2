"""Billing events: facts that happened, written to the outbox and handed to event sinks.

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
