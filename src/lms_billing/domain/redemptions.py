"""Coupon redemptions: who used which coupon (and promotion code) on which invoice.

Storage counts them for the per-customer limit
(:attr:`~lms_billing.domain.coupons.Coupon.max_redemptions_per_customer`) and reads
``first_time_transaction`` for the first-purchase rule: a customer's first purchase is one
order, so a first-purchase-only coupon used on one invoice (or subscription) blocks every
first-purchase-only coupon on any other.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lms_billing.clock import ensure_aware


class CouponRedemption(BaseModel):
    """One use of a coupon, recorded in the same transaction as the invoice change."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    coupon_id: str = Field(min_length=1)
    promotion_code_id: str | None = None
    customer_id: str = Field(min_length=1)
    invoice_id: str | None = Field(default=None, description="None: redeemed by a subscription.")
    first_time_transaction: bool = Field(
        default=False, description="The coupon or its code was for a first purchase only."
    )
    created_at: datetime

    @field_validator("created_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return ensure_aware(value, name="created_at")


__all__ = ["CouponRedemption"]
