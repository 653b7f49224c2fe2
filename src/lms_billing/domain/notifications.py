"""Customer notifications triggered by billing (receipt ready, trial ending, payment failed)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Notification(BaseModel):
    """What to tell a customer; a ``Notifier`` renders and delivers it."""

    model_config = ConfigDict(frozen=True)

    kind: str = Field(pattern=r"^[a-z_]+(\.[a-z_]+)*$", description="e.g. trial.will_end")
    customer_id: str
    locale: str = "en_US"
    event_id: str | None = Field(default=None, description="The event that triggered it.")
    data: dict[str, Any] = Field(default_factory=dict)


__all__ = ["Notification"]
