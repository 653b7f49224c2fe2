"""Correcting invoices through the Billing facade, on SQLite and PostgreSQL: voiding paid
invoices is refused (credit notes instead), coupons that stop applying to a draft are removed
and released, coupons can be removed on purpose, negative invoices become customer credit."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from invoicing_support import NOW, SETTINGS, Recorder, Shop, make_shop, stored_state

from lms_billing import Billing, TestClock
from lms_billing.domain.invoices import Invoice
from lms_billing.errors import BillingError, InvoiceHasPaymentsError
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
