"""Invoicing repositories behave alike on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lms_billing.domain.coupons import Coupon, PromotionCode
from lms_billing.domain.customer_balance import BalanceTransactionType, CustomerBalanceTransaction
from lms_billing.domain.customers import Customer
from lms_billing.domain.invoices import Invoice, InvoiceLine, InvoiceStatus
from lms_billing.domain.redemptions import CouponRedemption
from lms_billing.errors import (
    AlreadyExistsError,
    ConflictError,
    CouponExhaustedError,
    NotFoundError,
)
from lms_billing.storage.base import Storage
from lms_billing.storage.memory import MemoryStorage

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def _customer(storage: Storage) -> str:
    with storage.unit_of_work() as uow:
        uow.customers.add(Customer(id="cus_1", external_id="u1", created_at=NOW))
        uow.commit()
    return "cus_1"


def _invoice(invoice_id: str, *amounts: int, **fields: object) -> Invoice:
    lines = tuple(
        InvoiceLine(id=f"{invoice_id}_l{n}", description=f"Line {n}", amount=a)
        for n, a in enumerate(amounts)
    )
    data = {"id": invoice_id, "customer_id": "cus_1", "currency": "USD", "created_at": NOW}
    return Invoice.model_validate({**data, "lines": lines, **fields})


def test_numbering_counts_per_period_and_a_rollback_returns_the_number(storage: Storage) -> None:
    with storage.unit_of_work() as uow:
        assert uow.numbering.current("invoice", "2026") is None
        assert [uow.numbering.next("invoice", "2026") for _ in range(3)] == [1, 2, 3]
        assert uow.numbering.next("invoice", "2027") == 1
        assert uow.numbering.next("receipt", "all", start=100) == 100
        uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.numbering.next("invoice", "2026") == 4  # not committed: rolled back
    with storage.unit_of_work() as uow:
        assert uow.numbering.current("invoice", "2026") == 3
        assert uow.numbering.next("invoice", "2026") == 4


def test_redemptions_are_counted_up_to_the_limit_and_released(storage: Storage) -> None:
    customer = _customer(storage)
    with storage.unit_of_work() as uow:
        uow.coupons.add(Coupon(id="SAVE", percent_off="10", max_redemptions=2))
        uow.promotion_codes.add(
            PromotionCode(id="promo_1", code="save-now", coupon_id="SAVE", max_redemptions=1)
        )
        uow.invoices.add(_invoice("in_1", 1000))
        uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.coupons.redeem("SAVE").times_redeemed == 1
        assert uow.promotion_codes.redeem("promo_1").times_redeemed == 1
        with pytest.raises(CouponExhaustedError):
            uow.promotion_codes.redeem("promo_1")
        uow.coupons.record_redemption(
            CouponRedemption(
                id="redm_1",
                coupon_id="SAVE",
                promotion_code_id="promo_1",
                customer_id=customer,
                invoice_id="in_1",
                created_at=NOW,
            )
        )
        assert uow.coupons.redeem("SAVE").times_redeemed == 2
        with pytest.raises(CouponExhaustedError):
            uow.coupons.redeem("SAVE")
        uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.coupons.get("SAVE").times_redeemed == 2
        assert uow.coupons.redemption_count("SAVE", customer) == 1
        assert [r.id for r in uow.coupons.release_invoice_redemptions("in_1")] == ["redm_1"]
        uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.coupons.get("SAVE").times_redeemed == 1
        assert uow.promotion_codes.get("promo_1").times_redeemed == 0
        assert uow.coupons.redemption_count("SAVE", customer) == 0
        with pytest.raises(NotFoundError):
            uow.coupons.redeem("NOPE")


def test_redemptions_by_customer_and_invoice_and_releasing_one_coupon(storage: Storage) -> None:
    customer = _customer(storage)
    with storage.unit_of_work() as uow:
        for coupon_id in ("A", "B"):
            uow.coupons.add(Coupon(id=coupon_id, percent_off="10"))
            uow.coupons.redeem(coupon_id)
        uow.invoices.add(_invoice("in_1", 1000))
        for n, (coupon_id, invoice_id) in enumerate([("A", "in_1"), ("B", "in_1"), ("A", None)]):
            uow.coupons.record_redemption(
                CouponRedemption(
                    id=f"redm_{n}",
                    coupon_id=coupon_id,
                    customer_id=customer,
                    invoice_id=invoice_id,
                    first_time_transaction=n == 2,
                    created_at=NOW,
                )
            )
        uow.commit()
    with storage.unit_of_work() as uow:
        mine = uow.coupons.customer_redemptions(customer)
        assert [(r.id, r.first_time_transaction) for r in mine] == [
            ("redm_0", False),
            ("redm_1", False),
            ("redm_2", True),
        ]
        assert [r.id for r in uow.coupons.invoice_redemptions("in_1")] == ["redm_0", "redm_1"]
        released = uow.coupons.release_invoice_redemptions("in_1", coupon_id="B")
        assert [r.id for r in released] == ["redm_1"]
        uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.coupons.get("B").times_redeemed == 0
        assert uow.coupons.get("A").times_redeemed == 1
        assert [r.id for r in uow.coupons.invoice_redemptions("in_1")] == ["redm_0"]


def test_memory_redemptions_of_one_customer_conflict_at_commit(memory: MemoryStorage) -> None:
    """The memory backend has no locks: the later of two units of work that redeemed for the
    same customer fails at commit instead of waiting, so neither limit can be overrun."""
    customer = _customer(memory)
    with memory.unit_of_work() as first, memory.unit_of_work() as second:
        first.coupons.lock_customer(customer)
        first.coupons.lock_customer(customer)  # twice in one unit of work is fine
        second.coupons.lock_customer(customer)
        first.commit()
        with pytest.raises(ConflictError):
            second.commit()
    with memory.unit_of_work() as third, memory.unit_of_work() as other_customer:
        third.coupons.lock_customer(customer)
        other_customer.coupons.lock_customer("cus_other")
        third.commit()
        other_customer.commit()  # different customers never conflict


def test_promotion_codes_are_unique_in_any_letter_case(storage: Storage) -> None:
    with storage.unit_of_work() as uow:
        uow.coupons.add(Coupon(id="SAVE", amount_off={"USD": 500}))
        uow.promotion_codes.add(PromotionCode(id="promo_1", code="Spring", coupon_id="SAVE"))
        uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.promotion_codes.get_by_code("SPRING") is not None
        with pytest.raises(AlreadyExistsError):
            uow.promotion_codes.add(PromotionCode(id="promo_2", code="sPrInG", coupon_id="SAVE"))


def test_invoices_keep_their_lines_in_order_and_can_be_listed_and_deleted(
    storage: Storage,
) -> None:
    _customer(storage)
    with storage.unit_of_work() as uow:
        uow.invoices.add(_invoice("in_1", 300, 100, 200))
        uow.invoices.add(_invoice("in_2", 500, status="open", number="INV-1", amount_paid=100))
        uow.commit()
    with storage.unit_of_work() as uow:
        first = uow.invoices.get("in_1")
        assert [line.amount for line in first.lines] == [300, 100, 200]
        shorter = first.model_copy(update={"lines": first.lines[1:]})
        assert uow.invoices.update(shorter) == 2
        uow.commit()
    with storage.unit_of_work() as uow:
        assert [line.amount for line in uow.invoices.get("in_1").lines] == [100, 200]
        assert [i.id for i in uow.invoices.list(status=InvoiceStatus.OPEN)] == ["in_2"]
        assert [i.id for i in uow.invoices.list(customer_id="cus_1")] == ["in_2", "in_1"]
        assert uow.invoices.get_by_number("INV-1") == uow.invoices.get("in_2")
        assert uow.invoices.customer_has_payments("cus_1")
        with pytest.raises(AlreadyExistsError):
            uow.invoices.add(_invoice("in_3", 1, status="open", number="INV-1"))
    with storage.unit_of_work() as uow:
        uow.invoices.delete("in_1")
        uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.invoices.get_or_none("in_1") is None
        with pytest.raises(NotFoundError):
            uow.invoices.delete("in_1")


def test_customer_balance_is_the_sum_of_its_transactions(storage: Storage) -> None:
    customer = _customer(storage)
    with storage.unit_of_work() as uow:
        for n, (amount, currency) in enumerate([(3000, "USD"), (-1200, "usd"), (500, "EUR")]):
            uow.customer_balance.add(
                CustomerBalanceTransaction(
                    id=f"cbtxn_{n}",
                    customer_id=customer,
                    currency=currency,
                    amount=amount,
                    type=BalanceTransactionType.ADJUSTMENT,
                    created_at=NOW,
                )
            )
        assert uow.customer_balance.balance(customer, "USD", lock=True) == 1800
        uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.customer_balance.balance(customer, "usd") == 1800
        assert uow.customer_balance.balance(customer, "EUR") == 500
        assert uow.customer_balance.balance(customer, "JPY") == 0
        assert len(uow.customer_balance.list(customer, currency="USD")) == 2


def test_memory_units_of_work_never_hand_out_the_same_number(memory: MemoryStorage) -> None:
    with memory.unit_of_work() as first, memory.unit_of_work() as second:
        assert first.numbering.next("invoice", "2026") == 1
        assert second.numbering.next("invoice", "2026") == 1
        first.commit()
        with pytest.raises(ConflictError):
            second.commit()
    with memory.unit_of_work() as uow:
        assert uow.numbering.next("invoice", "2026") == 2
