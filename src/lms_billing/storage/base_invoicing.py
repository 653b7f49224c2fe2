"""Repositories for invoicing: coupons, promotion codes, invoices, credit notes, receipts,
document numbering and the customer credit balance (see :mod:`lms_billing.storage.base`).

Two operations are atomic in the database rather than read-check-write in Python:

* :meth:`CouponRepository.redeem` / :meth:`PromotionCodeRepository.redeem` count a use with
  one conditional ``UPDATE ... WHERE times_redeemed < max_redemptions``; when no row matches
  they raise :class:`~lms_billing.errors.CouponExhaustedError`.
* :meth:`NumberingRepository.next` increments a counter row inside the caller's transaction
  (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``): the row lock serialises concurrent
  finalizations and a rollback returns the number, so a series has no gaps and no duplicates.
"""

from __future__ import annotations

import builtins
from typing import Protocol

from lms_billing.domain.coupons import Coupon, PromotionCode
from lms_billing.domain.credit_notes import CreditNote
from lms_billing.domain.customer_balance import CustomerBalanceTransaction
from lms_billing.domain.invoices import Invoice, InvoiceStatus
from lms_billing.domain.receipts import Receipt
from lms_billing.domain.redemptions import CouponRedemption
from lms_billing.storage.base import DEFAULT_LIST_LIMIT, Repository


class CouponRepository(Repository[Coupon], Protocol):
    def list(
        self,
        *,
        valid: bool | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[Coupon]: ...

    def redeem(self, coupon_id: str) -> Coupon:
        """Count one redemption atomically; returns the counted coupon.

        :raises CouponExhaustedError: ``max_redemptions`` is already reached.
        :raises NotFoundError: no such coupon.
        """
        ...

    def record_redemption(self, redemption: CouponRedemption) -> None:
        """Store who redeemed the coupon (for per-customer limits)."""
        ...

    def lock_customer(self, customer_id: str) -> None:
        """Serialise coupon redemptions by ``customer_id`` until the transaction ends, so
        the per-customer limit and the first-purchase rule are checked against every
        redemption committed before (PostgreSQL: a transaction-scoped advisory lock; SQLite:
        ``BEGIN IMMEDIATE`` already serialises writers; memory: a lock row that makes the
        later of two concurrent units of work fail at commit)."""
        ...

    def redemption_count(self, coupon_id: str, customer_id: str) -> int:
        """How many times ``customer_id`` has redeemed ``coupon_id``."""
        ...

    def customer_redemptions(self, customer_id: str) -> builtins.list[CouponRedemption]:
        """Every redemption by ``customer_id`` still counted, oldest first."""
        ...

    def invoice_redemptions(self, invoice_id: str) -> builtins.list[CouponRedemption]:
        """The redemptions recorded on ``invoice_id``, oldest first."""
        ...

    def release_invoice_redemptions(
        self, invoice_id: str, *, coupon_id: str | None = None
    ) -> builtins.list[CouponRedemption]:
        """Undo the redemptions recorded for a draft (all of them when it is deleted, or
        those of ``coupon_id`` when that coupon is removed): counts go back down."""
        ...


class PromotionCodeRepository(Repository[PromotionCode], Protocol):
    def get_by_code(self, code: str) -> PromotionCode | None:
        """Look up an already normalized (upper-case) code."""
        ...

    def list(
        self,
        *,
        coupon_id: str | None = None,
        active: bool | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[PromotionCode]: ...

    def redeem(self, promotion_code_id: str) -> PromotionCode:
        """Count one redemption atomically; :class:`CouponExhaustedError` when used up."""
        ...


class InvoiceRepository(Repository[Invoice], Protocol):
    def list(
        self,
        *,
        customer_id: str | None = None,
        status: InvoiceStatus | None = None,
        subscription_id: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[Invoice]: ...

    def get_by_number(self, number: str) -> Invoice | None: ...

    def delete(self, invoice_id: str) -> None:
        """Delete an invoice and its lines (drafts only: services check the status)."""
        ...

    def customer_has_payments(self, customer_id: str) -> bool:
        """True once any invoice of the customer has an amount paid."""
        ...


class CreditNoteRepository(Repository[CreditNote], Protocol):
    def list(
        self,
        *,
        invoice_id: str | None = None,
        customer_id: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[CreditNote]: ...


class ReceiptRepository(Repository[Receipt], Protocol):
    def list(
        self,
        *,
        invoice_id: str | None = None,
        customer_id: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[Receipt]: ...


class NumberingRepository(Protocol):
    def next(self, series: str, period_key: str, *, start: int = 1) -> int:
        """The next sequence value of ``(series, period_key)``, counted in this transaction
        (``start`` for the period's first document)."""
        ...

    def current(self, series: str, period_key: str) -> int | None:
        """The last value handed out, or ``None`` when the period has none yet."""
        ...


class CustomerBalanceRepository(Protocol):
    def add(self, transaction: CustomerBalanceTransaction) -> None: ...

    def balance(self, customer_id: str, currency: str, *, lock: bool = False) -> int:
        """The sum of the customer's transactions in ``currency`` (minor units).

        ``lock=True`` serialises concurrent writers of this customer's balance until the
        transaction ends (PostgreSQL advisory lock; SQLite and memory serialise anyway).
        """
        ...

    def list(
        self,
        customer_id: str,
        *,
        currency: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[CustomerBalanceTransaction]: ...


__all__ = [
    "CouponRepository",
    "CreditNoteRepository",
    "CustomerBalanceRepository",
    "InvoiceRepository",
    "NumberingRepository",
    "PromotionCodeRepository",
    "ReceiptRepository",
]
