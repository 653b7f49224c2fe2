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
from lms_billing.domain.invoices import Invoice
from lms_billing.domain.receipts import Receipt
from lms_billing.domain.redemptions import CouponRedemption
from lms_billing.errors import CouponExhaustedError
from lms_billing.money import currency_code
from lms_billing.storage.entities_invoicing import (
    BALANCE_TRANSACTIONS,
    COUPON_REDEMPTIONS,
    COUPONS,
    CREDIT_NOTES,
    INVOICES,
    NUMBERING_COUNTERS,
    PROMOTION_CODES,
    RECEIPTS,
    REDEMPTION_LOCKS,
    NumberingCounter,
    RedemptionLock,
)
from lms_billing.storage.memory import _Deletable, _MemoryRepository
from lms_billing.storage.queries import (
    BalanceQueries,
    CouponQueries,
    InvoiceDocumentQueries,
    InvoiceQueries,
    PromotionCodeQueries,
)

if TYPE_CHECKING:
    from lms_billing.storage.memory import MemoryUnitOfWork

M = TypeVar("M", bound=BaseModel)


class MemoryRedemptionRepository(_Deletable[CouponRedemption]):
    def for_invoice(self, invoice_id: str) -> list[CouponRedemption]:
        return [
            self._load(i, row)
            for i, row in sorted(self._view().items())
            if row.columns.get("invoice_id") == invoice_id
        ]

    def for_customer(self, customer_id: str) -> list[CouponRedemption]:
        return [
            self._load(i, row)
            for i, row in sorted(self._view().items())
            if row.columns.get("customer_id") == customer_id
        ]

    def count(self, coupon_id: str, customer_id: str) -> int:
        return sum(
            1
            for row in self._view().values()
            if row.columns.get("coupon_id") == coupon_id
            and row.columns.get("customer_id") == customer_id
        )


class MemoryPromotionCodeRepository(_MemoryRepository[PromotionCode], PromotionCodeQueries):
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


class MemoryRedemptionLockRepository(_MemoryRepository[RedemptionLock]):
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        super().__init__(uow, REDEMPTION_LOCKS)

    def touch(self, customer_id: str) -> None:
        """Rewrite the customer's lock row once per unit of work: a concurrent unit of work
        that touched it too fails at commit (``StaleVersionError`` / ``AlreadyExistsError``)."""
        if customer_id in self._pending:
            return
        lock = self.get_or_none(customer_id)
        if lock is None:
            self.add(RedemptionLock(id=customer_id, redemptions=1))
        else:
            self.update(lock.model_copy(update={"redemptions": lock.redemptions + 1}))


class MemoryCouponRepository(_MemoryRepository[Coupon], CouponQueries):
    def __init__(
        self,
        uow: MemoryUnitOfWork,
        redemptions: MemoryRedemptionRepository,
        codes: MemoryPromotionCodeRepository,
        locks: MemoryRedemptionLockRepository,
    ) -> None:
        super().__init__(uow, COUPONS)
        self._redemptions = redemptions
        self._codes = codes
        self._locks = locks

    def lock_customer(self, customer_id: str) -> None:
        self._locks.touch(customer_id)

    def customer_redemptions(self, customer_id: str) -> builtins.list[CouponRedemption]:
        return self._redemptions.for_customer(customer_id)

    def invoice_redemptions(self, invoice_id: str) -> builtins.list[CouponRedemption]:
        return self._redemptions.for_invoice(invoice_id)

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

    def release_invoice_redemptions(
        self, invoice_id: str, *, coupon_id: str | None = None
    ) -> builtins.list[CouponRedemption]:
        released = [
            r
            for r in self._redemptions.for_invoice(invoice_id)
            if coupon_id is None or r.coupon_id == coupon_id
        ]
        for redemption in released:
            coupon = self.get(redemption.coupon_id)
            times = max(0, coupon.times_redeemed - 1)
            self.update(coupon.model_copy(update={"times_redeemed": times}))
            if redemption.promotion_code_id is not None:
                self._codes._uncount(redemption.promotion_code_id)
            self._redemptions._delete(redemption.id)
        return released


class MemoryInvoiceRepository(_Deletable[Invoice], InvoiceQueries):
    def delete(self, invoice_id: str) -> None:
        self._delete(invoice_id)

    def customer_has_payments(self, customer_id: str) -> bool:
        return any(
            row.columns.get("customer_id") == customer_id and row.columns["amount_paid"] > 0
            for row in self._view().values()
        )


class MemoryCreditNoteRepository(_MemoryRepository[CreditNote], InvoiceDocumentQueries[CreditNote]):
    pass


class MemoryReceiptRepository(_MemoryRepository[Receipt], InvoiceDocumentQueries[Receipt]):
    pass


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


class MemoryBalanceRepository(_MemoryRepository[CustomerBalanceTransaction], BalanceQueries):
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        super().__init__(uow, BALANCE_TRANSACTIONS)

    def balance(self, customer_id: str, currency: str, *, lock: bool = False) -> int:
        code = currency_code(currency)
        return sum(
            int(row.columns["amount"])
            for row in self._view().values()
            if row.columns["customer_id"] == customer_id and row.columns["currency"] == code
        )


class MemoryInvoicing:
    """The invoicing repositories of one memory unit of work."""

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self.redemptions = MemoryRedemptionRepository(uow, COUPON_REDEMPTIONS)
        self.redemption_locks = MemoryRedemptionLockRepository(uow)
        self.promotion_codes = MemoryPromotionCodeRepository(uow, PROMOTION_CODES)
        self.coupons = MemoryCouponRepository(
            uow, self.redemptions, self.promotion_codes, self.redemption_locks
        )
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
            self.redemption_locks,
            self.credit_notes,
            self.receipts,
            self.numbering,
            self.customer_balance,
        )


__all__ = ["MemoryInvoicing"]
