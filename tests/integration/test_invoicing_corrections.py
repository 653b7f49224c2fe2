"""Correcting invoices through the Billing facade, on SQLite and PostgreSQL: voiding paid
invoices is refused (credit notes instead), coupons that stop applying to a draft are removed
and released, coupons can be removed on purpose, negative invoices become customer credit."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from invoicing_support import NOW, SETTINGS, Recorder, Shop, make_shop, stored_state

from lms_billing import Billing, TestClock
from lms_billing.domain.invoices import Invoice, InvoiceStatus
from lms_billing.errors import (
    BillingError,
    CouponAlreadyAppliedError,
    CouponNotApplicableError,
    InvoiceHasPaymentsError,
    InvoiceNotEditableError,
    NotFoundError,
)
from lms_billing.money import Money


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def billing(storage_url: str, recorder: Recorder) -> Iterator[Billing]:
    with Billing(
        storage_url,
        plugins=[recorder],
        clock=TestClock(NOW),
        load_entrypoints=False,
        settings=SETTINGS,
    ) as opened:
        yield opened


@pytest.fixture
def shop(billing: Billing) -> Shop:
    return make_shop(billing)


def course_draft(billing: Billing, shop: Shop, key: str) -> Invoice:
    invoice = billing.invoices.create_draft(shop.customer.id, "USD", idempotency_key=f"{key}:d")
    return billing.invoices.add_price_line(invoice.id, shop.course.id, idempotency_key=f"{key}:l")


def assert_unchanged(
    billing: Billing, error: type[BillingError], call: Callable[[], object]
) -> BillingError:
    before = stored_state(billing)
    with pytest.raises(error) as caught:
        call()
    assert stored_state(billing) == before
    return caught.value


# --- voiding ----------------------------------------------------------------------------


def test_a_partly_paid_invoice_is_credited_not_voided(billing: Billing, shop: Shop) -> None:
    draft = course_draft(billing, shop, "a")
    opened = billing.invoices.finalize(draft.id, idempotency_key="f")
    billing.invoices.pay(opened.id, 400, payment_reference="wire-1", idempotency_key="p")

    error = assert_unchanged(
        billing,
        InvoiceHasPaymentsError,
        lambda: billing.invoices.void(opened.id, idempotency_key="v"),
    )
    assert error.details["amount_paid"] == 400
    # What the error says to do instead: credit the whole invoice, paying the 400 back as
    # customer credit; nothing is left due and the payment is not lost.
    note = billing.invoices.create_credit_note(opened.id, amount=4900, idempotency_key="cn")
    assert (note.pre_payment_amount, note.credit_amount) == (4500, 400)
    assert billing.invoices.customer_balance(shop.customer.id, "USD") == Money("4.00", "USD")
    assert billing.invoices.get_invoice(opened.id).amount_remaining == 0


# --- first purchase and per-customer limits ----------------------------------------------


def test_a_first_purchase_coupon_serves_one_purchase(billing: Billing, shop: Shop) -> None:
    welcome = billing.coupons.create_coupon(
        percent_off="15", first_time_transaction=True, idempotency_key="welcome"
    )
    hello = billing.coupons.create_coupon(
        amount_off={"USD": 100}, first_time_transaction=True, idempotency_key="hello"
    )
    first = course_draft(billing, shop, "first")
    billing.invoices.apply_coupon(first.id, welcome.id, idempotency_key="w1")
    # Two first-purchase coupons on the same invoice are still one first purchase.
    stacked = billing.invoices.apply_coupon(first.id, hello.id, idempotency_key="h1")
    assert {c.id for c in stacked.coupons} == {welcome.id, hello.id}

    # A second order is not the first purchase, though nothing is paid yet.
    second = course_draft(billing, shop, "second")
    error = assert_unchanged(
        billing,
        CouponNotApplicableError,
        lambda: billing.invoices.apply_coupon(second.id, welcome.id, idempotency_key="w2"),
    )
    assert error.details["reason"] == "first_time_transaction"

    # Deleting the first draft gives the first purchase back.
    billing.invoices.delete_draft(first.id, idempotency_key="del")
    again = billing.invoices.apply_coupon(second.id, welcome.id, idempotency_key="w3")
    assert again.total_discount == 735  # 15 % of 49.00


def test_the_same_coupon_twice_on_one_invoice(billing: Billing, shop: Shop) -> None:
    draft = course_draft(billing, shop, "a")
    billing.invoices.apply_coupon(draft.id, shop.coupon_id, idempotency_key="c1")
    for call in (
        lambda: billing.invoices.apply_coupon(draft.id, shop.coupon_id, idempotency_key="c2"),
        lambda: billing.invoices.apply_promotion_code(draft.id, shop.code, idempotency_key="c3"),
    ):
        error = assert_unchanged(billing, CouponAlreadyAppliedError, call)
        assert error.details == {"coupon": shop.coupon_id, "invoice": draft.id}
    assert billing.coupons.get_coupon(shop.coupon_id).times_redeemed == 1


# --- coupons that stop applying, and removing coupons -----------------------------------


def test_a_coupon_whose_minimum_the_draft_no_longer_meets_is_removed_and_released(
    billing: Billing, shop: Shop, recorder: Recorder
) -> None:
    half = billing.coupons.create_coupon(
        percent_off="50", minimum_amount={"USD": 5000}, idempotency_key="half"
    )
    draft = course_draft(billing, shop, "a")  # 49.00
    draft = billing.invoices.add_price_line(draft.id, shop.seats.id, 2, idempotency_key="s")
    draft = billing.invoices.apply_coupon(draft.id, half.id, idempotency_key="c")
    assert (draft.subtotal, draft.total_discount) == (7900, 3950)
    seats = next(line for line in draft.lines if line.price_id == shop.seats.id)

    edited = billing.invoices.remove_line(draft.id, seats.id, idempotency_key="rm")
    assert (edited.subtotal, edited.total_discount, edited.coupons) == (4900, 0, ())
    (removed,) = edited.removed_coupons
    assert (removed.coupon_id, removed.reason, removed.removed_at) == (
        half.id,
        "minimum_amount_not_met",
        NOW,
    )
    assert billing.coupons.get_coupon(half.id).times_redeemed == 0
    with billing.storage.unit_of_work() as uow:
        assert uow.coupons.invoice_redemptions(draft.id) == []
    assert recorder.types()[-2:] == ["invoice.updated", "invoice.coupon_removed"]
    # Released, so the customer may use it again once the order qualifies.
    billing.invoices.add_price_line(draft.id, shop.seats.id, 1, idempotency_key="s2")
    again = billing.invoices.apply_coupon(draft.id, half.id, idempotency_key="c2")
    assert again.total_discount == 3200


def test_promotion_code_minimum_and_product_restrictions_are_rechecked(
    billing: Billing, shop: Shop
) -> None:
    seats_only = billing.coupons.create_coupon(
        amount_off={"USD": 500},
        applies_to_price_ids=[shop.seats.id],
        idempotency_key="seats-only",
    )
    billing.coupons.create_promotion_code(
        coupon_id=shop.coupon_id, code="BIG", minimum_amount={"USD": 6000}, idempotency_key="big"
    )
    draft = course_draft(billing, shop, "a")
    draft = billing.invoices.add_price_line(draft.id, shop.seats.id, 1, idempotency_key="s")
    billing.invoices.apply_coupon(draft.id, seats_only.id, idempotency_key="c1")
    draft = billing.invoices.apply_promotion_code(draft.id, "big", idempotency_key="c2")
    assert {c.id for c in draft.coupons} == {seats_only.id, shop.coupon_id}
    seats = next(line for line in draft.lines if line.price_id == shop.seats.id)

    edited = billing.invoices.remove_line(draft.id, seats.id, idempotency_key="rm")
    assert edited.coupons == ()
    reasons = {r.coupon_id: (r.reason, r.promotion_code_id) for r in edited.removed_coupons}
    code = billing.coupons.find_promotion_code("BIG")
    assert reasons == {
        seats_only.id: ("applies_to", None),
        shop.coupon_id: ("minimum_amount_not_met", code.id),
    }
    assert code.times_redeemed == 0
    assert billing.coupons.get_coupon(seats_only.id).times_redeemed == 0
    assert billing.coupons.get_coupon(shop.coupon_id).times_redeemed == 0


def test_a_coupon_that_still_applies_stays(billing: Billing, shop: Shop) -> None:
    draft = course_draft(billing, shop, "a")
    draft = billing.invoices.add_price_line(draft.id, shop.seats.id, 1, idempotency_key="s")
    billing.invoices.apply_promotion_code(draft.id, shop.code, idempotency_key="c")
    seats = next(line for line in draft.lines if line.price_id == shop.seats.id)
    edited = billing.invoices.remove_line(draft.id, seats.id, idempotency_key="rm")
    assert [c.id for c in edited.coupons] == [shop.coupon_id]
    assert (edited.total_discount, edited.removed_coupons) == (980, ())


def test_finalize_rechecks_coupon_conditions_of_drafts_changed_elsewhere(
    billing: Billing, shop: Shop, recorder: Recorder
) -> None:
    from lms_billing.domain.invoices import remove_line

    half = billing.coupons.create_coupon(
        percent_off="50", minimum_amount={"USD": 5000}, idempotency_key="half"
    )
    draft = course_draft(billing, shop, "a")
    draft = billing.invoices.add_price_line(draft.id, shop.seats.id, 1, idempotency_key="s")
    draft = billing.invoices.apply_coupon(draft.id, half.id, idempotency_key="c")
    seats = next(line for line in draft.lines if line.price_id == shop.seats.id)
    with billing.storage.unit_of_work() as uow:  # an edit that bypassed the service
        uow.invoices.update(remove_line(uow.invoices.get(draft.id), seats.id))
        uow.commit()

    final = billing.invoices.finalize(draft.id, idempotency_key="f")
    assert (final.status, final.total, final.coupons) == (InvoiceStatus.OPEN, 4900, ())
    assert [r.reason for r in final.removed_coupons] == ["minimum_amount_not_met"]
    assert billing.coupons.get_coupon(half.id).times_redeemed == 0
    assert "invoice.coupon_removed" in recorder.types()


def test_removing_coupons_and_promotion_codes_is_idempotent(billing: Billing, shop: Shop) -> None:
    draft = course_draft(billing, shop, "a")
    billing.invoices.apply_promotion_code(draft.id, shop.code, idempotency_key="c")

    removed = billing.invoices.remove_promotion_code(draft.id, "spring26", idempotency_key="r1")
    assert (removed.coupons, removed.total_discount) == ((), 0)
    (record,) = removed.removed_coupons
    code = billing.coupons.find_promotion_code(shop.code)
    assert (record.reason, record.promotion_code_id, code.times_redeemed) == (
        "requested",
        code.id,
        0,
    )
    assert billing.coupons.get_coupon(shop.coupon_id).times_redeemed == 0
    # Again (new key): nothing to remove, nothing changes. A replay returns the first result.
    assert billing.invoices.remove_promotion_code(draft.id, shop.code, idempotency_key="r2") == (
        removed
    )
    assert billing.invoices.remove_coupon(draft.id, shop.coupon_id, idempotency_key="r3") == (
        removed
    )
    assert billing.invoices.remove_promotion_code(draft.id, shop.code, idempotency_key="r1") == (
        removed
    )

    billing.invoices.apply_coupon(draft.id, shop.coupon_id, idempotency_key="c2")
    by_id = billing.invoices.remove_coupon(draft.id, shop.coupon_id, idempotency_key="r4")
    assert by_id.coupons == () and len(by_id.removed_coupons) == 2
    assert billing.coupons.get_coupon(shop.coupon_id).times_redeemed == 0

    assert_unchanged(
        billing,
        NotFoundError,
        lambda: billing.invoices.remove_promotion_code(draft.id, "NOPE", idempotency_key="r5"),
    )
    opened = billing.invoices.finalize(draft.id, idempotency_key="f")
    assert_unchanged(
        billing,
        InvoiceNotEditableError,
        lambda: billing.invoices.remove_coupon(opened.id, shop.coupon_id, idempotency_key="r6"),
    )


# --- negative invoices ----------------------------------------------------------------------


def test_a_negative_invoice_credits_the_customer_and_the_next_invoice_uses_it(
    billing: Billing, shop: Shop
) -> None:
    credit = billing.invoices.create_draft(shop.customer.id, "USD", idempotency_key="d")
    billing.invoices.add_line(
        credit.id, description="Unused seats", amount=-3000, idempotency_key="l1"
    )
    billing.invoices.add_line(credit.id, description="Setup", amount=800, idempotency_key="l2")
    final = billing.invoices.finalize(credit.id, idempotency_key="f")
    assert (final.total, final.status, final.credited_to_balance) == (
        -2200,
        InvoiceStatus.PAID,
        2200,
    )
    assert billing.invoices.customer_balance(shop.customer.id, "USD") == Money("22.00", "USD")
    (txn,) = billing.invoices.balance_transactions(shop.customer.id)
    assert (txn.type, txn.amount, txn.invoice_id) == ("invoice_credit", 2200, final.id)

    later = billing.invoices.finalize(course_draft(billing, shop, "next").id, idempotency_key="f2")
    assert (later.applied_balance, later.amount_due) == (2200, 2700)
    assert billing.invoices.customer_balance(shop.customer.id, "USD") == Money("0.00", "USD")


def test_quantity_on_flat_and_per_unit_prices(billing: Billing, shop: Shop) -> None:
    """The documented default: a flat price bills one amount whatever the quantity; a
    per-unit price (Stripe's default billing scheme) bills each unit."""
    draft = billing.invoices.create_draft(shop.customer.id, "USD", idempotency_key="d")
    billing.invoices.add_price_line(draft.id, shop.course.id, 3, idempotency_key="flat")
    draft = billing.invoices.add_price_line(draft.id, shop.seats.id, 3, idempotency_key="seats")
    flat, seats = draft.lines
    assert (flat.quantity, flat.unit_amount, flat.amount) == (3, None, 4900)
    assert (seats.quantity, seats.unit_amount, seats.amount) == (3, 1500, 4500)
