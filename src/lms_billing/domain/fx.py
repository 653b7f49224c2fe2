"""Exchange rates, as recorded facts: a conversion always keeps the rate it used."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lms_billing.errors import ValidationError
from lms_billing.money import CurrencyCode


class FxRate(BaseModel):
    """``1 base = rate quote`` at ``as_of``, from ``source`` (e.g. "ecb", "manual")."""

    model_config = ConfigDict(frozen=True)

    base: CurrencyCode
    quote: CurrencyCode
    rate: Decimal
    as_of: datetime
    source: str = Field(min_length=1)

    @field_validator("rate", mode="before")
    @classmethod
    def _no_float(cls, value: object) -> object:
        if isinstance(value, float | bool):
            raise ValidationError("FX rates must be Decimal or str, never float.")
        return value

    @field_validator("rate")
    @classmethod
    def _positive(cls, value: Decimal) -> Decimal:
        if not value.is_finite() or value <= 0:
            raise ValidationError(f"FX rate must be positive, got {value}.")
        return value


__all__ = ["FxRate"]
