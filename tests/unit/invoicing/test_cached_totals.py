"""Invoice and line totals are cached per instance: copies must never reuse stale totals."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from lms_billing.domain.invoices import Invoice, InvoiceLine, LineDiscountAmount

AT = datetime(2026, 1, 1, tzinfo=UTC)


def _invoice(*amounts: int) -> Invoice:
    lines = tuple(
        InvoiceLine(id=f"il_{n}", description="Course", amount=amount)
        for n, amount in enumerate(amounts)
    )
    return Invoice(id="in_1", customer_id="cus_1", currency="USD", lines=lines, created_at=AT)


def test_totals_are_read_from_the_fields() -> None:
    invoice = _invoice(1000, 250)
    assert (invoice.subtotal, invoice.total, invoice.amount_due) == (1250, 1250, 1250)


def test_copy_with_new_lines_recomputes_totals() -> None:
    invoice = _invoice(1000)
    assert invoice.total == 1000  # cached on the original
    for deep in (False, True):
        copied = invoice.model_copy(update={"lines": _invoice(300, 200).lines}, deep=deep)
        assert (copied.subtotal, copied.total, copied.amount_due) == (500, 500, 500)
    assert invoice.total == 1000


def test_copy_with_applied_balance_recomputes_amounts_due() -> None:
    invoice = _invoice(1000)
    assert (invoice.amount_due, invoice.amount_remaining) == (1000, 1000)
    credited = invoice.model_copy(update={"applied_balance": 300, "amount_paid": 200})
    assert (credited.amount_due, credited.amount_remaining) == (700, 500)


def test_line_copy_recomputes_discount_and_total() -> None:
    line = InvoiceLine(id="il_1", description="Course", amount=1000)
    assert (line.discount, line.total) == (0, 1000)
    discounted = line.model_copy(
        update={"discount_amounts": (LineDiscountAmount(coupon_id="c_1", amount=100),)}
    )
    assert (discounted.discount, discounted.net_amount, discounted.total) == (100, 900, 900)


def test_cached_totals_do_not_affect_equality_dumps_or_plain_copies() -> None:
    invoice = _invoice(1000)
    fresh = _invoice(1000)
    assert invoice.total == 1000  # only ``invoice`` has cached totals
    assert invoice == fresh
    assert invoice.model_dump() == fresh.model_dump()
    assert invoice.model_dump_json() == fresh.model_dump_json()
    assert copy.deepcopy(invoice).total == 1000
    assert Invoice.model_validate_json(invoice.model_dump_json()) == invoice
