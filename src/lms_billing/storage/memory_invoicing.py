"""In-memory invoicing repositories (``memory://``), behaving like the SQL ones.

Counters and redemption counts are versioned rows like every other memory entity: two units
of work that count the same row conflict at commit (the later one fails with
:class:`~lms_billing.errors.StaleVersionError` or ``AlreadyExistsError``), so numbers are
never handed out twice. The SQL backends serialise these writers with row locks instead.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from lms_billing.domain.coupons import Coupon, PromotionCode
from lms_billing.domain.credit_notes import CreditNote
from lms_billing.domain.customer_balance import CustomerBalanceTransaction
from lms_billing.domain.invoices import Invoice, InvoiceStatus
from lms_billing.domain.receipts import Receipt
from lms_billing.domain.redemptions import CouponRedemption
from lms_billing.errors import CouponExhaustedError, NotFoundError
from lms_billing.money import currency_code
from lms_billing.storage.base import DEFAULT_LIST_LIMIT, check_limit
from lms_billing.storage.entities import EntitySpec
from lms_billing.storage.entities_invoicing import (
    BALANCE_TRANSACTIONS,
    COUPON_REDEMPTIONS,
    COUPONS,
    CREDIT_NOTES,
    INVOICES,
    NUMBERING_COUNTERS,
    PROMOTION_CODES,
    RECEIPTS,
    NumberingCounter,
)
from lms_billing.storage.memory import _MemoryRepository, _Row

if TYPE_CHECKING:
    from lms_billing.storage.memory import MemoryUnitOfWork

M = TypeVar("M", bound=BaseModel)


class _Deletable(_MemoryRepository[M]):
    """A memory repository whose rows can be deleted within the unit of work."""

    def __init__(self, uow: MemoryUnitOfWork, spec: EntitySpec[M]) -> None:
        super().__init__(uow, spec)
        self._deleted: set[str] = set()

    def _row(self, entity_id: str) -> _Row | None:
        return None if entity_id in self._deleted else super()._row(entity_id)

    def _view(self) -> dict[str, _Row]:
        return {k: v for k, v in super()._view().items() if k not in self._deleted}

    def _delete(self, entity_id: str) -> None:
        current = self._row(entity_id)
        if current is None:
            raise NotFoundError(f"No {self._spec.label} {entity_id!r}.", id=entity_id)
        self._pending.pop(entity_id, None)
        if self._expected.get(entity_id, 0) is None:  # added here: just forget it
            del self._expected[entity_id]
        else:
            self._expected.setdefault(entity_id, self._seen.get(entity_id, current.version))
            self._deleted.add(entity_id)

    def _apply(self) -> None:
        super()._apply()
        committed = self._committed()
        for entity_id in self._deleted:
            committed.pop(entity_id, None)
        self._deleted.clear()


class MemoryRedemptionRepository(_Deletable[CouponRedemption]):
    def for_invoice(self, invoice_id: str) -> list[CouponRedemption]:
        return [
            self._load(i, row)
            for i, row in sorted(self._view().items())
            if row.columns.get("invoice_id") == invoice_id
        ]

    def count(self, coupon_id: str, customer_id: str) -> int:
        return sum(
            1
            for row in self._view().values()
            if row.columns.get("coupon_id") == coupon_id
            and row.columns.get("customer_id") == customer_id
        )


class MemoryPromotionCodeRepository(_MemoryRepository[PromotionCode]):
    def get_by_code(self, code: str) -> PromotionCode | None:
        return self._get_by("code", code)

    def list(
        self,
        *,
        coupon_id: str | None = None,
        active: bool | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[PromotionCode]:
        return self._list({"coupon_id": coupon_id, "active": active}, limit, starting_after)

    def redeem(self, promotion_code_id: str) -> PromotionCode:
        code = self.get(promotion_code_id)
        if code.max_redemptions is not None and code.times_redeemed >= code.max_redemptions:
            raise CouponExhaustedError(f"Promotion code {code.code} has been fully redeemed.")
        counted = code.model_copy(update={"times_redeemed": code.times_redeemed + 1})
        self.update(counted)
        return counted

    def _uncount(self, promotion_code_id: str) -> None:
        code = self.get(promotion_code_id)
        self.update(code.model_copy(update={"times_redeemed": max(0, code.times_redeemed - 1)}))


class MemoryCouponRepository(_MemoryRepository[Coupon]):
    def __init__(
        self,
        uow: MemoryUnitOfWork,
        redemptions: MemoryRedemptionRepository,
        codes: MemoryPromotionCodeRepository,
    ) -> None:
        super().__init__(uow, COUPONS)
        self._redemptions = redemptions
        self._codes = codes

    def list(
        self,
        *,
        valid: bool | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[Coupon]:
        return self._list({"valid": valid}, limit, starting_after)

    def redeem(self, coupon_id: str) -> Coupon:
        coupon = self.get(coupon_id)
        if coupon.max_redemptions is not None and coupon.times_redeemed >= coupon.max_redemptions:
            raise CouponExhaustedError(f"Coupon {coupon.id} has been fully redeemed.")
        counted = coupon.model_copy(update={"times_redeemed": coupon.times_redeemed + 1})
        self.update(counted)
        return counted

    def record_redemption(self, redemption: CouponRedemption) -> None:
        self._redemptions.add(redemption)

    def redemption_count(self, coupon_id: str, customer_id: str) -> int:
        return self._redemptions.count(coupon_id, customer_id)

    def release_invoice_redemptions(self, invoice_id: str) -> builtins.list[CouponRedemption]:
        released = self._redemptions.for_invoice(invoice_id)
        for redemption in released:
            coupon = self.get(redemption.coupon_id)
            times = max(0, coupon.times_redeemed - 1)
            self.update(coupon.model_copy(update={"times_redeemed": times}))
            if redemption.promotion_code_id is not None:
                self._codes._uncount(redemption.promotion_code_id)
            self._redemptions._delete(redemption.id)
        return released


class MemoryInvoiceRepository(_Deletable[Invoice]):
    def list(
        self,
        *,
        customer_id: str | None = None,
        status: InvoiceStatus | None = None,
        subscription_id: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[Invoice]:
        filters = {
            "customer_id": customer_id,
            "status": None if status is None else InvoiceStatus(status).value,
            "subscription_id": subscription_id,
        }
        return self._list(filters, limit, starting_after)

    def get_by_number(self, number: str) -> Invoice | None:
        return self._get_by("number", number)

    def delete(self, invoice_id: str) -> None:
        self._delete(invoice_id)

    def customer_has_payments(self, customer_id: str) -> bool:
        return any(
            row.columns.get("customer_id") == customer_id and row.columns["amount_paid"] > 0
            for row in self._view().values()
        )


class MemoryCreditNoteRepository(_MemoryRepository[CreditNote]):
    def list(
        self,
        *,
        invoice_id: str | None = None,
        customer_id: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[CreditNote]:
        filters = {"invoice_id": invoice_id, "customer_id": customer_id}
        return self._list(filters, limit, starting_after)


class MemoryReceiptRepository(_MemoryRepository[Receipt]):
    def list(
        self,
        *,
        invoice_id: str | None = None,
        customer_id: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[Receipt]:
        filters = {"invoice_id": invoice_id, "customer_id": customer_id}
        return self._list(filters, limit, starting_after)


class MemoryNumberingRepository(_MemoryRepository[NumberingCounter]):
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        super().__init__(uow, NUMBERING_COUNTERS)

    def current(self, series: str, period_key: str) -> int | None:
        counter = self.get_or_none(f"{series}:{period_key}")
        return None if counter is None else counter.last_value

    def next(self, series: str, period_key: str, *, start: int = 1) -> int:
        key = f"{series}:{period_key}"
        counter = self.get_or_none(key)
        if counter is None:
            self.add(
                NumberingCounter(id=key, series=series, period_key=period_key, last_value=start)
            )
            return start
        value = counter.last_value + 1
        self.update(counter.model_copy(update={"last_value": value}))
        return value


class MemoryBalanceRepository(_MemoryRepository[CustomerBalanceTransaction]):
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        super().__init__(uow, BALANCE_TRANSACTIONS)

    def balance(self, customer_id: str, currency: str, *, lock: bool = False) -> int:
        code = currency_code(currency)
        return sum(
            int(row.columns["amount"])
            for row in self._view().values()
            if row.columns["customer_id"] == customer_id and row.columns["currency"] == code
        )

    def list(
        self,
        customer_id: str,
        *,
        currency: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[CustomerBalanceTransaction]:
        check_limit(limit)
        filters = {
            "customer_id": customer_id,
            "currency": None if currency is None else currency_code(currency),
        }
        return self._list(filters, limit, starting_after)


class MemoryInvoicing:
    """The invoicing repositories of one memory unit of work."""

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self.redemptions = MemoryRedemptionRepository(uow, COUPON_REDEMPTIONS)
        self.promotion_codes = MemoryPromotionCodeRepository(uow, PROMOTION_CODES)
        self.coupons = MemoryCouponRepository(uow, self.redemptions, self.promotion_codes)
        self.invoices = MemoryInvoiceRepository(uow, INVOICES)
        self.credit_notes = MemoryCreditNoteRepository(uow, CREDIT_NOTES)
        self.receipts = MemoryReceiptRepository(uow, RECEIPTS)
        self.numbering = MemoryNumberingRepository(uow)
        self.customer_balance = MemoryBalanceRepository(uow)

    def repositories(self) -> tuple[_MemoryRepository[Any], ...]:
        """Every repository, in commit order."""
        return (
            self.coupons,
            self.promotion_codes,
            self.invoices,
            self.redemptions,
            self.credit_notes,
            self.receipts,
            self.numbering,
            self.customer_balance,
        )


__all__ = ["MemoryInvoicing"]
