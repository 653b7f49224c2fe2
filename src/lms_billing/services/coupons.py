"""Coupon use cases: create coupons and promotion codes, read them, deactivate them.

Redeeming happens when a coupon is applied to an invoice
(:meth:`lms_billing.services.invoicing.InvoiceService.apply_coupon`), in the same
transaction as the invoice change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from lms_billing.domain.coupons import (
    Coupon,
    CouponDuration,
    PromotionCode,
    PromotionRestrictions,
    normalize_code,
)
from lms_billing.errors import AlreadyExistsError, NotFoundError
from lms_billing.ids import new_id
from lms_billing.services._context import PendingEvents, ServiceContext, mutate, validating
from lms_billing.storage.base import DEFAULT_LIST_LIMIT, UnitOfWork


class CouponService:
    """Coupons (the discount rule) and promotion codes (what customers type).

    Every mutating call takes an ``idempotency_key``; a replay returns the first result.
    """

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def create_coupon(
        self,
        *,
        idempotency_key: str,
        coupon_id: str | None = None,
        name: str | None = None,
        percent_off: Decimal | int | str | None = None,
        amount_off: Mapping[str, int] | None = None,
        duration: CouponDuration | str = CouponDuration.ONCE,
        duration_in_months: int | None = None,
        redeem_by: datetime | None = None,
        max_redemptions: int | None = None,
        max_redemptions_per_customer: int | None = None,
        first_time_transaction: bool = False,
        minimum_amount: Mapping[str, int] | None = None,
        applies_to_product_ids: Sequence[str] = (),
        applies_to_price_ids: Sequence[str] = (),
        stackable: bool = True,
        stacking_order: int = 0,
        metadata: Mapping[str, str] | None = None,
    ) -> Coupon:
        """Create a coupon: ``percent_off`` (``"20"`` is 20 %) or ``amount_off`` per currency
        in minor units (``{"USD": 500}``). ``coupon_id`` may be a readable id ("SUMMER").

        :raises InvalidCouponError: both or neither discount, bad duration, bad amounts.
        :raises AlreadyExistsError: ``coupon_id`` is taken.
        """
        with validating("coupon"):
            coupon = Coupon(
                id=coupon_id or new_id("coupon"),
                name=name,
                percent_off=percent_off,
                amount_off=dict(amount_off or {}),
                duration=duration,
                duration_in_months=duration_in_months,
                redeem_by=redeem_by,
                max_redemptions=max_redemptions,
                max_redemptions_per_customer=max_redemptions_per_customer,
                first_time_transaction=first_time_transaction,
                minimum_amount=dict(minimum_amount or {}),
                applies_to_product_ids=tuple(applies_to_product_ids),
                applies_to_price_ids=tuple(applies_to_price_ids),
                stackable=stackable,
                stacking_order=stacking_order,
                metadata=dict(metadata or {}),
            )
        request = coupon.model_dump(mode="json", exclude={"id"} if coupon_id is None else set())

        def execute(uow: UnitOfWork, events: PendingEvents) -> Coupon:
            uow.coupons.add(coupon)
            events.record("coupon.created", coupon)
            return coupon

        return mutate(
            self._ctx,
            operation="coupons.create",
            idempotency_key=idempotency_key,
            request=request,
            model=Coupon,
            execute=execute,
        )

    def create_promotion_code(
        self,
        *,
        coupon_id: str,
        code: str,
        idempotency_key: str,
        max_redemptions: int | None = None,
        expires_at: datetime | None = None,
        first_time_transaction: bool = False,
        minimum_amount: Mapping[str, int] | None = None,
        customer_id: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> PromotionCode:
        """Create a customer-facing code for a coupon. Codes compare case-insensitively
        (stored upper-case) and are unique.

        :raises AlreadyExistsError: the code exists (in any letter case).
        :raises NotFoundError: no such coupon.
        :raises InvalidCouponError: a code outside ``[A-Za-z0-9_-]{2,64}``.
        """
        with validating("promotion code"):
            promotion = PromotionCode(
                id=new_id("promo"),
                code=code,
                coupon_id=coupon_id,
                max_redemptions=max_redemptions,
                expires_at=expires_at,
                restrictions=PromotionRestrictions(
                    first_time_transaction=first_time_transaction,
                    minimum_amount=dict(minimum_amount or {}),
                    customer_id=customer_id,
                ),
                metadata=dict(metadata or {}),
            )
        request = promotion.model_dump(mode="json", exclude={"id"})

        def execute(uow: UnitOfWork, events: PendingEvents) -> PromotionCode:
            uow.coupons.get(coupon_id)
            if uow.promotion_codes.get_by_code(promotion.code) is not None:
                raise AlreadyExistsError(
                    f"Promotion code {promotion.code} already exists.", code=promotion.code
                )
            if customer_id is not None:
                uow.customers.get(customer_id)
            uow.promotion_codes.add(promotion)
            events.record("promotion_code.created", promotion)
            return promotion

        return mutate(
            self._ctx,
            operation="promotion_codes.create",
            idempotency_key=idempotency_key,
            request=request,
            model=PromotionCode,
            execute=execute,
        )

    def deactivate_coupon(self, coupon_id: str, *, idempotency_key: str) -> Coupon:
        """Mark a coupon invalid: no new redemptions; applied discounts stay."""

        def execute(uow: UnitOfWork, events: PendingEvents) -> Coupon:
            coupon = uow.coupons.get(coupon_id).model_copy(update={"valid": False})
            uow.coupons.update(coupon)
            events.record("coupon.updated", coupon)
            return coupon

        return mutate(
            self._ctx,
            operation="coupons.deactivate",
            idempotency_key=idempotency_key,
            request={"coupon_id": coupon_id},
            model=Coupon,
            execute=execute,
        )

    def deactivate_promotion_code(
        self, promotion_code_id: str, *, idempotency_key: str
    ) -> PromotionCode:
        """Deactivate a promotion code; its coupon stays usable through other codes."""

        def execute(uow: UnitOfWork, events: PendingEvents) -> PromotionCode:
            code = uow.promotion_codes.get(promotion_code_id)
            code = code.model_copy(update={"active": False})
            uow.promotion_codes.update(code)
            events.record("promotion_code.updated", code)
            return code

        return mutate(
            self._ctx,
            operation="promotion_codes.deactivate",
            idempotency_key=idempotency_key,
            request={"promotion_code_id": promotion_code_id},
            model=PromotionCode,
            execute=execute,
        )

    def get_coupon(self, coupon_id: str) -> Coupon:
        with self._ctx.storage.unit_of_work() as uow:
            return uow.coupons.get(coupon_id)

    def list_coupons(
        self,
        *,
        valid: bool | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[Coupon]:
        with self._ctx.storage.unit_of_work() as uow:
            return uow.coupons.list(valid=valid, limit=limit, starting_after=starting_after)

    def get_promotion_code(self, promotion_code_id: str) -> PromotionCode:
        with self._ctx.storage.unit_of_work() as uow:
            return uow.promotion_codes.get(promotion_code_id)

    def find_promotion_code(self, code: str) -> PromotionCode:
        """The promotion code a customer typed, in any letter case.

        :raises NotFoundError: no such code.
        """
        normalized = normalize_code(code)
        with self._ctx.storage.unit_of_work() as uow:
            found = uow.promotion_codes.get_by_code(normalized)
        if found is None:
            raise NotFoundError(f"No promotion code {normalized}.", code=normalized)
        return found

    def list_promotion_codes(
        self,
        *,
        coupon_id: str | None = None,
        active: bool | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[PromotionCode]:
        with self._ctx.storage.unit_of_work() as uow:
            return uow.promotion_codes.list(
                coupon_id=coupon_id, active=active, limit=limit, starting_after=starting_after
            )


__all__ = ["CouponService"]
