"""Coupons leaving a draft: on request, or because its lines stopped meeting their conditions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lms_billing.domain.coupons import Coupon, PromotionCode, PromotionRestrictions
from lms_billing.domain.invoices import (
    Invoice,
    add_line,
    apply_coupons,
    compute_tax,
    drop_inapplicable_coupons,
    finalize,
    order_summary,
    remove_coupon,
    remove_line,
)
from lms_billing.errors import InvoiceNotEditableError
from lms_billing.tax.zero import ZeroTaxEngine

from .helpers import NOW, draft, make_line, tax_context

HALF_OVER_20 = Coupon(id="half", percent_off=Decimal(50), minimum_amount={"EUR": 2000})
SEATS_ONLY = Coupon(id="seats", amount_off={"EUR": 300}, applies_to_product_ids=("prod_seat",))


def cart() -> Invoice:
    invoice = add_line(draft(), make_line("course", 2_900))
    invoice = add_line(invoice, make_line("seat", 100, product_id="prod_seat"))
    return apply_coupons(invoice, [HALF_OVER_20, SEATS_ONLY])


def test_a_draft_below_the_minimum_loses_the_coupon_the_audit_way() -> None:
    invoice = cart()
    # 50 % of 30.00; the 3.00 seat coupon is capped by what the seat line has left (0.50).
    assert invoice.total_discount == 1_500 + 50
    smaller = remove_line(invoice, "course")  # EUR 1.00 left
    assert smaller.total_discount == 100  # the domain edit alone still discounts 50 %...
    checked, removed = drop_inapplicable_coupons(smaller, NOW)
    # ...the re-check takes off the coupon whose minimum is no longer met.
    assert [(r.coupon_id, r.reason) for r in removed] == [("half", "minimum_amount_not_met")]
    assert [c.id for c in checked.coupons] == ["seats"]
    assert checked.total_discount == 100  # the seat coupon, capped by the seat line
    assert checked.removed_coupons == removed and "at least 2000" in removed[0].message


def test_product_restrictions_and_code_minimums_are_rechecked() -> None:
    code = PromotionCode(
        id="promo_1",
        code="BIG",
        coupon_id="seats",
        restrictions=PromotionRestrictions(minimum_amount={"EUR": 2_500}),
    )
    invoice = cart()
    still, removed = drop_inapplicable_coupons(invoice, NOW, codes={"seats": code})
    assert (still, removed) == (invoice, ())  # everything still applies: the same draft
    without_seat = remove_line(invoice, "seat")
    _, removed = drop_inapplicable_coupons(without_seat, NOW, codes={"seats": code})
    assert [(r.coupon_id, r.reason, r.promotion_code_id) for r in removed] == [
        ("seats", "applies_to", "promo_1")
    ]
    small = add_line(
        remove_line(without_seat, "course"), make_line("seat2", 2_400, product_id="prod_seat")
    )
    small = apply_coupons(small, [SEATS_ONLY])
    _, removed = drop_inapplicable_coupons(small, NOW, codes={"seats": code})
    assert [r.reason for r in removed] == ["minimum_amount_not_met"]  # the code's 25.00


def test_only_the_named_coupons_are_rechecked() -> None:
    smaller = remove_line(cart(), "course")
    checked, removed = drop_inapplicable_coupons(smaller, NOW, only={"seats"})
    assert (checked, removed) == (smaller, ())


def test_remove_coupon_is_idempotent_and_drafts_only() -> None:
    invoice = cart()
    removed = remove_coupon(invoice, "half", NOW)
    assert [c.id for c in removed.coupons] == ["seats"] and removed.total_discount == 100
    assert [(r.coupon_id, r.reason) for r in removed.removed_coupons] == [("half", "requested")]
    assert remove_coupon(removed, "half", NOW) == removed
    assert remove_coupon(removed, "never-applied", NOW) == removed
    opened = finalize(compute_tax(removed, ZeroTaxEngine(), tax_context()), "INV-1", NOW)
    with pytest.raises(InvoiceNotEditableError):
        remove_coupon(opened, "seats", NOW)
    with pytest.raises(InvoiceNotEditableError):
        drop_inapplicable_coupons(opened, NOW)


def test_order_summary_is_the_subtotal_before_discounts() -> None:
    order = order_summary(cart())
    assert (order.currency, order.subtotal) == ("EUR", 3_000)
    assert [(line.amount, line.product_id) for line in order.lines] == [
        (2_900, None),
        (100, "prod_seat"),
    ]
