"""Invoicing end to end through the Billing facade, on SQLite and PostgreSQL: drafts,
coupons, finalization, payments and receipts, credit notes, the customer balance, rendering,
idempotent replays, and bad input that leaves stored state unchanged."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from invoicing_support import NOW, SETTINGS, Recorder, Shop, make_shop, stored_state

from lms_billing import Billing, TestClock
from lms_billing.domain.invoices import Invoice, InvoiceStatus
from lms_billing.domain.numbering import NumberingSeries
from lms_billing.errors import (
    BillingError,
    CouponCurrencyMismatchError,
    CouponExhaustedError,
    CouponExpiredError,
    CouponNotApplicableError,
    CreditExceedsInvoiceError,
    IdempotencyKeyMismatchError,
    InvalidStateTransitionError,
    InvoiceNotCreditableError,
    InvoiceNotEditableError,
    MinimumAmountNotMetError,
    NotFoundError,
    OverpaymentError,
    UnknownJurisdictionError,
)
from lms_billing.money import Money


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def clock() -> TestClock:
    return TestClock(NOW)


@pytest.fixture
def billing(storage_url: str, recorder: Recorder, clock: TestClock) -> Iterator[Billing]:
    with Billing(
        storage_url, plugins=[recorder], clock=clock, load_entrypoints=False, settings=SETTINGS
    ) as opened:
        yield opened


@pytest.fixture
def shop(billing: Billing) -> Shop:
    return make_shop(billing)


def draft_with(billing: Billing, shop: Shop, key: str, *, seats: int = 0) -> Invoice:
    invoice = billing.invoices.create_draft(shop.customer.id, "USD", idempotency_key=f"{key}:d")
    invoice = billing.invoices.add_price_line(
        invoice.id, shop.course.id, idempotency_key=f"{key}:course"
    )
    if seats:
        invoice = billing.invoices.add_price_line(
            invoice.id, shop.seats.id, seats, idempotency_key=f"{key}:seats"
        )
    return invoice


def open_invoice(billing: Billing, shop: Shop, key: str, *, seats: int = 0) -> Invoice:
    invoice = draft_with(billing, shop, key, seats=seats)
    return billing.invoices.finalize(invoice.id, idempotency_key=f"{key}:f")


def assert_unchanged(
    billing: Billing, error: type[BillingError], call: Callable[[], object]
) -> None:
    before = stored_state(billing)
    with pytest.raises(error):
        call()
    assert stored_state(billing) == before


# --- the lifecycle ------------------------------------------------------------------------


def test_draft_to_open_to_paid_with_a_promotion_code_and_receipts(
    billing: Billing, shop: Shop, recorder: Recorder
) -> None:
    invoice = draft_with(billing, shop, "inv", seats=10)
    invoice = billing.invoices.apply_promotion_code(invoice.id, "spring26", idempotency_key="c")

    assert invoice.status is InvoiceStatus.DRAFT and invoice.number is None
    assert (invoice.subtotal, invoice.total_discount, invoice.total) == (19900, 3980, 15920)
    # Largest-remainder allocation: line discounts sum exactly to the invoice discount.
    assert [line.discount for line in invoice.lines] == [980, 3000]

    opened = billing.invoices.finalize(invoice.id, idempotency_key="f")
    assert opened.status is InvoiceStatus.OPEN
    assert opened.number == "INV-2026-000001"
    assert opened.amount_due == 15920 and opened.tax_engine == "zero"
    assert opened.customer_name == "Ada Lovelace"

    first = billing.invoices.pay(opened.id, 5920, payment_reference="pi_1", idempotency_key="p1")
    assert first.invoice.status is InvoiceStatus.OPEN
    assert first.invoice.amount_remaining == 10000
    assert first.receipt.number == "RCT-2026-000001" and first.receipt.amount_paid == 5920

    second = billing.invoices.pay(
        opened.id, Money("100.00", "USD"), payment_reference="pi_2", idempotency_key="p2"
    )
    assert second.invoice.status is InvoiceStatus.PAID
    assert second.receipt.number == "RCT-2026-000002"
    assert second.invoice.paid_at == NOW

    assert billing.invoices.get_invoice(opened.id) == second.invoice
    assert {r.number for r in billing.invoices.list_receipts(invoice_id=opened.id)} == {
        "RCT-2026-000001",
        "RCT-2026-000002",
    }
    assert billing.coupons.get_coupon(shop.coupon_id).times_redeemed == 1
    assert billing.coupons.find_promotion_code("Spring26").times_redeemed == 1
    assert recorder.types()[-6:] == [
        "invoice.updated",  # the coupon
        "invoice.finalized",
        "receipt.created",
        "invoice.updated",
        "receipt.created",
        "invoice.paid",
    ]
    assert [i.id for i in billing.invoices.list_invoices(status="paid")] == [opened.id]
    assert billing.invoices.list_invoices(customer_id=shop.customer.id, status="open") == []


def test_numbers_follow_the_configured_series(storage_url: str, recorder: Recorder) -> None:
    series = NumberingSeries(
        id="invoice", prefix="LW", format="{prefix}{year}/{month:02d}-{seq:04d}", reset="monthly"
    )
    settings = SETTINGS.model_copy(update={"invoice_numbering": series})
    with Billing(
        storage_url, plugins=[recorder], clock=TestClock(NOW), settings=settings
    ) as billing:
        shop = make_shop(billing)
        numbers = [open_invoice(billing, shop, f"i{n}").number for n in range(3)]
    assert numbers == ["LW2026/11-0001", "LW2026/11-0002", "LW2026/11-0003"]


def test_void_keeps_the_number_and_uncollectible_can_still_be_paid(
    billing: Billing, shop: Shop
) -> None:
    first = open_invoice(billing, shop, "a")
    voided = billing.invoices.void(first.id, idempotency_key="v")
    assert voided.status is InvoiceStatus.VOID and voided.number == "INV-2026-000001"

    second = open_invoice(billing, shop, "b")
    assert second.number == "INV-2026-000002"  # the voided number is not reused
    written_off = billing.invoices.mark_uncollectible(second.id, idempotency_key="u")
    assert written_off.status is InvoiceStatus.UNCOLLECTIBLE
    paid = billing.invoices.pay(second.id, 4900, payment_reference="wire-7", idempotency_key="p")
    assert paid.invoice.status is InvoiceStatus.PAID


def test_deleting_a_draft_releases_its_redemption(billing: Billing, shop: Shop) -> None:
    invoice = draft_with(billing, shop, "d")
    billing.invoices.apply_coupon(invoice.id, shop.coupon_id, idempotency_key="c")
    assert billing.coupons.get_coupon(shop.coupon_id).times_redeemed == 1

    deleted = billing.invoices.delete_draft(invoice.id, idempotency_key="del")
    assert deleted.id == invoice.id
    with pytest.raises(NotFoundError):
        billing.invoices.get_invoice(invoice.id)
    assert billing.coupons.get_coupon(shop.coupon_id).times_redeemed == 0
    assert billing.coupons.find_promotion_code(shop.code).times_redeemed == 0
    # Drafts were never numbered: the next finalized invoice is still number 1.
    assert open_invoice(billing, shop, "next").number == "INV-2026-000001"


def test_price_in_another_currency_is_converted_with_the_recorded_rate(
    billing: Billing, shop: Shop
) -> None:
    invoice = billing.invoices.create_draft(shop.customer.id, "GBP", idempotency_key="d")
    invoice = billing.invoices.add_price_line(invoice.id, shop.course.id, idempotency_key="l")
    (line,) = invoice.lines
    assert line.amount == 3920  # 49.00 USD x 0.8
    assert line.metadata["fx_rate"] == "0.8" and line.metadata["fx_source"] == "test"


def test_configured_tax_engine_taxes_after_discounts(storage_url: str, recorder: Recorder) -> None:
    settings = SETTINGS.model_copy(update={"tax_engines": ("flat_vat",)})
    with Billing(
        storage_url, plugins=[recorder], clock=TestClock(NOW), settings=settings
    ) as billing:
        shop = make_shop(billing)
        invoice = draft_with(billing, shop, "t", seats=2)
        billing.invoices.apply_coupon(invoice.id, shop.coupon_id, idempotency_key="c")
        opened = billing.invoices.finalize(invoice.id, idempotency_key="f")
        html = billing.invoices.render(opened.id)
    # (4900 + 3000) - 20 % = 6320 net; 19 % of each discounted line: 745 + 456.
    assert (opened.total_excluding_tax, opened.tax, opened.total) == (6320, 1201, 7521)
    assert opened.tax_engine == "flat_vat"
    assert "VAT DE 19%" in html


# --- credit notes and the customer balance --------------------------------------------------


def test_credit_note_reduces_the_amount_due_of_an_open_invoice(
    billing: Billing, shop: Shop
) -> None:
    invoice = open_invoice(billing, shop, "i", seats=2)  # 7900
    note = billing.invoices.create_credit_note(
        invoice.id, amount=2500, reason="order_change", idempotency_key="cn"
    )
    assert note.number == "CN-2026-000001"
    assert (note.pre_payment_amount, note.credit_amount, note.refund_amount) == (2500, 0, 0)
    updated = billing.invoices.get_invoice(invoice.id)
    assert updated.amount_due == 5400 and updated.status is InvoiceStatus.OPEN
    assert billing.invoices.list_credit_notes(invoice_id=invoice.id) == [note]

    # Crediting the rest settles it.
    billing.invoices.create_credit_note(invoice.id, amount=5400, idempotency_key="cn2")
    assert billing.invoices.get_invoice(invoice.id).status is InvoiceStatus.PAID


def test_credit_on_a_paid_invoice_becomes_balance_used_by_the_next_invoice(
    billing: Billing, shop: Shop
) -> None:
    invoice = open_invoice(billing, shop, "i", seats=4)  # 4900 + 6000
    billing.invoices.pay(invoice.id, 10900, payment_reference="pi", idempotency_key="p")
    seat_line = invoice.lines[1]
    note = billing.invoices.create_credit_note(
        invoice.id,
        lines=[{"invoice_line_id": seat_line.id, "quantity": 2}],
        idempotency_key="cn",
    )
    assert (note.post_payment_amount, note.credit_amount) == (3000, 3000)
    assert billing.invoices.customer_balance(shop.customer.id, "USD") == Money("30.00", "USD")

    following = open_invoice(billing, shop, "next")  # 4900
    assert following.applied_balance == 3000 and following.amount_due == 1900
    assert billing.invoices.customer_balance(shop.customer.id, "USD") == Money(0, "USD")
    ledger = billing.invoices.balance_transactions(shop.customer.id)
    assert sorted(t.amount for t in ledger) == [-3000, 3000]

    # Voiding that invoice gives the credit back.
    billing.invoices.void(following.id, idempotency_key="v")
    assert billing.invoices.customer_balance(shop.customer.id, "USD") == Money("30.00", "USD")


def test_refund_outcome_is_recorded_without_touching_the_balance(
    billing: Billing, shop: Shop
) -> None:
    invoice = open_invoice(billing, shop, "i")
    billing.invoices.pay(invoice.id, 4900, payment_reference="pi", idempotency_key="p")
    note = billing.invoices.create_credit_note(
        invoice.id, amount=2000, refund_amount=2000, idempotency_key="cn"
    )
    assert (note.refund_amount, note.credit_amount, note.post_payment_amount) == (2000, 0, 2000)
    assert billing.invoices.customer_balance(shop.customer.id, "USD") == Money(0, "USD")
    html = billing.invoices.render_credit_note(note.id)
    assert note.number in html and "Ada Lovelace" in html


# --- bad input: typed errors, stored state unchanged ----------------------------------------


def test_finalized_invoices_cannot_be_edited(billing: Billing, shop: Shop) -> None:
    invoice = open_invoice(billing, shop, "i")
    assert_unchanged(
        billing,
        InvoiceNotEditableError,
        lambda: billing.invoices.add_price_line(invoice.id, shop.seats.id, idempotency_key="x"),
    )
    assert_unchanged(
        billing,
        InvoiceNotEditableError,
        lambda: billing.invoices.remove_line(invoice.id, invoice.lines[0].id, idempotency_key="y"),
    )
    assert_unchanged(
        billing,
        InvoiceNotEditableError,
        lambda: billing.invoices.apply_promotion_code(invoice.id, shop.code, idempotency_key="z"),
    )
    assert_unchanged(
        billing,
        InvalidStateTransitionError,
        lambda: billing.invoices.delete_draft(invoice.id, idempotency_key="w"),
    )
    assert_unchanged(
        billing,
        InvalidStateTransitionError,
        lambda: billing.invoices.finalize(invoice.id, idempotency_key="again"),
    )


def test_crediting_more_than_invoiced_changes_nothing(billing: Billing, shop: Shop) -> None:
    invoice = open_invoice(billing, shop, "i")
    billing.invoices.create_credit_note(invoice.id, amount=4000, idempotency_key="cn1")
    assert_unchanged(
        billing,
        CreditExceedsInvoiceError,
        lambda: billing.invoices.create_credit_note(invoice.id, amount=901, idempotency_key="cn2"),
    )
    draft = draft_with(billing, shop, "d")
    assert_unchanged(
        billing,
        InvoiceNotCreditableError,
        lambda: billing.invoices.create_credit_note(draft.id, amount=100, idempotency_key="cn3"),
    )
    # The failed attempts did not consume credit note numbers.
    note = billing.invoices.create_credit_note(invoice.id, amount=900, idempotency_key="cn4")
    assert note.number == "CN-2026-000002"


def test_overpayment_changes_nothing(billing: Billing, shop: Shop) -> None:
    invoice = open_invoice(billing, shop, "i")
    assert_unchanged(
        billing,
        OverpaymentError,
        lambda: billing.invoices.pay(invoice.id, 4901, payment_reference="x", idempotency_key="p"),
    )


def test_expired_promotion_code(billing: Billing, shop: Shop, clock: TestClock) -> None:
    billing.coupons.create_promotion_code(
        coupon_id=shop.coupon_id,
        code="blackfriday",
        expires_at=NOW + timedelta(days=1),
        idempotency_key="bf",
    )
    invoice = draft_with(billing, shop, "i")
    clock.advance(days=2)
    assert_unchanged(
        billing,
        CouponExpiredError,
        lambda: billing.invoices.apply_promotion_code(
            invoice.id, "BlackFriday", idempotency_key="c"
        ),
    )


def test_exhausted_code_and_per_customer_limit(billing: Billing, shop: Shop) -> None:
    coupon = billing.coupons.create_coupon(
        amount_off={"USD": 500}, max_redemptions_per_customer=1, idempotency_key="five"
    )
    billing.coupons.create_promotion_code(
        coupon_id=coupon.id, code="ONCE", max_redemptions=1, idempotency_key="once"
    )
    first = draft_with(billing, shop, "a")
    billing.invoices.apply_promotion_code(first.id, "once", idempotency_key="c1")
    second = draft_with(billing, shop, "b")
    assert_unchanged(
        billing,
        CouponExhaustedError,
        lambda: billing.invoices.apply_promotion_code(second.id, "ONCE", idempotency_key="c2"),
    )
    # The coupon itself has no global limit, but this customer used it already.
    assert_unchanged(
        billing,
        CouponExhaustedError,
        lambda: billing.invoices.apply_coupon(second.id, coupon.id, idempotency_key="c3"),
    )


def test_wrong_currency_minimum_and_first_purchase_rules(billing: Billing, shop: Shop) -> None:
    euro = billing.coupons.create_coupon(amount_off={"EUR": 500}, idempotency_key="eur")
    big_spender = billing.coupons.create_coupon(
        percent_off=10, minimum_amount={"USD": 10000}, idempotency_key="min"
    )
    welcome = billing.coupons.create_coupon(
        percent_off=50, first_time_transaction=True, idempotency_key="welcome"
    )
    invoice = draft_with(billing, shop, "i")
    for coupon_id, error in (
        (euro.id, CouponCurrencyMismatchError),
        (big_spender.id, MinimumAmountNotMetError),
    ):
        assert_unchanged(
            billing,
            error,
            lambda c=coupon_id: billing.invoices.apply_coupon(
                invoice.id, c, idempotency_key=f"k-{c}"
            ),
        )
    paid = open_invoice(billing, shop, "paid")
    billing.invoices.pay(paid.id, 4900, payment_reference="pi", idempotency_key="p")
    assert_unchanged(
        billing,
        CouponNotApplicableError,
        lambda: billing.invoices.apply_coupon(invoice.id, welcome.id, idempotency_key="w"),
    )


def test_discount_bigger_than_the_subtotal_clamps_to_zero(billing: Billing, shop: Shop) -> None:
    huge = billing.coupons.create_coupon(amount_off={"USD": 100000}, idempotency_key="huge")
    invoice = draft_with(billing, shop, "i")
    invoice = billing.invoices.apply_coupon(invoice.id, huge.id, idempotency_key="c")
    assert (invoice.total_discount, invoice.total) == (4900, 0)
    finalized = billing.invoices.finalize(invoice.id, idempotency_key="f")
    # Nothing due: paid at once (as Stripe does), numbered all the same.
    assert finalized.status is InvoiceStatus.PAID and finalized.amount_due == 0
    assert finalized.number == "INV-2026-000001"


def test_tax_engine_needing_an_address_fails_without_using_a_number(
    storage_url: str, recorder: Recorder
) -> None:
    settings = SETTINGS.model_copy(update={"tax_engines": ("flat_vat",)})
    with Billing(
        storage_url, plugins=[recorder], clock=TestClock(NOW), settings=settings
    ) as billing:
        shop = make_shop(billing)
        nowhere = billing.customers.create({"external_id": "n"}, idempotency_key="n")
        invoice = billing.invoices.create_draft(nowhere.id, "USD", idempotency_key="d")
        billing.invoices.add_line(
            invoice.id, description="Workshop", unit_amount=1000, idempotency_key="l"
        )
        assert_unchanged(
            billing,
            UnknownJurisdictionError,
            lambda: billing.invoices.finalize(invoice.id, idempotency_key="f"),
        )
        assert open_invoice(billing, shop, "ok").number == "INV-2026-000001"


# --- idempotent replays ---------------------------------------------------------------------


def test_replays_return_the_first_result_and_change_nothing(
    billing: Billing, shop: Shop, recorder: Recorder
) -> None:
    first = billing.invoices.create_draft(shop.customer.id, "USD", idempotency_key="create")
    assert billing.invoices.create_draft(shop.customer.id, "USD", idempotency_key="create") == first
    billing.invoices.add_price_line(first.id, shop.course.id, idempotency_key="line")
    billing.invoices.add_price_line(first.id, shop.course.id, idempotency_key="line")
    assert len(billing.invoices.get_invoice(first.id).lines) == 1

    opened = billing.invoices.finalize(first.id, idempotency_key="fin")
    assert billing.invoices.finalize(first.id, idempotency_key="fin") == opened
    note = billing.invoices.create_credit_note(first.id, amount=900, idempotency_key="cn")
    assert billing.invoices.create_credit_note(first.id, amount=900, idempotency_key="cn") == note
    payment = billing.invoices.pay(opened.id, 4000, payment_reference="pi", idempotency_key="pay")
    again = billing.invoices.pay(opened.id, 4000, payment_reference="pi", idempotency_key="pay")
    assert again == payment

    second = open_invoice(billing, shop, "second")
    voided = billing.invoices.void(second.id, idempotency_key="void")
    assert billing.invoices.void(second.id, idempotency_key="void") == voided

    assert second.number == "INV-2026-000002"  # replays drew no numbers
    assert len(billing.invoices.list_receipts()) == 1
    assert len(billing.invoices.list_credit_notes()) == 1
    assert recorder.types().count("invoice.finalized") == 2
    assert recorder.types().count("invoice.voided") == 1
    with pytest.raises(IdempotencyKeyMismatchError):
        billing.invoices.pay(opened.id, 1, payment_reference="other", idempotency_key="pay")


# --- rendering ------------------------------------------------------------------------------


def test_rendering_html_pdf_and_template_overrides(
    storage_url: str, recorder: Recorder, tmp_path: Path
) -> None:
    (tmp_path / "receipt.html").write_text("CUSTOM {{ doc.number }}", encoding="utf-8")
    settings = SETTINGS.model_copy(update={"templates_dir": tmp_path})
    with Billing(
        storage_url, plugins=[recorder], clock=TestClock(NOW), settings=settings
    ) as billing:
        shop = make_shop(billing)
        invoice = draft_with(billing, shop, "i", seats=10)
        invoice = billing.invoices.apply_promotion_code(invoice.id, shop.code, idempotency_key="c")
        invoice = billing.invoices.finalize(invoice.id, idempotency_key="f")
        payment = billing.invoices.pay(
            invoice.id, 15920, payment_reference="pi", idempotency_key="p"
        )

        html = billing.invoices.render(invoice.id)
        german = billing.invoices.render(invoice.id, locale="de_DE")
        pdf = billing.invoices.render(invoice.id, "pdf")
        receipt = billing.invoices.render_receipt(payment.receipt.id)

    assert isinstance(html, str) and "INV-2026-000001" in html and "$159.20" in html
    assert "Lernwerk Akademie GmbH" in html and "Amtsgericht Berlin HRB 123456" in html
    assert "159,20" in str(german)
    assert isinstance(pdf, bytes) and pdf.startswith(b"%PDF-")
    assert receipt == "CUSTOM RCT-2026-000001"
