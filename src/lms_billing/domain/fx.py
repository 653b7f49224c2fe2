"""Exchange rates, as recorded facts: a conversion always keeps the rate it used."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lms_billing.clock import ensure_aware
from lms_billing.errors import ValidationError
from lms_billing.money import CurrencyCode


class FxRate(BaseModel):
    """``1 base = rate quote`` at ``as_of``, from ``source`` (e.g. "ecb", "manual").

    ``as_of`` must be timezone-aware (stored in UTC); ``base`` and ``quote`` must differ
    (a currency needs no rate to itself). Both raise :class:`ValidationError`.
    """

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

    @field_validator("as_of", mode="before")
    @classmethod
    def _aware(cls, value: object) -> object:
        if isinstance(value, datetime):
            return ensure_aware(value, name="FX rate as_of")
        return value

    @model_validator(mode="after")
    def _two_currencies(self) -> FxRate:
        if self.base == self.quote:
            raise ValidationError(
                f"An FX rate needs two different currencies, got {self.base}/{self.quote}.",
                base=self.base,
                quote=self.quote,
            )
        return self


__all__ = ["FxRate"]
