"""Credit notes issued against an invoice are listed on it (HTML and PDF), through the view
and through the service, which loads them; receipts rendered by the service name their tax."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lms_billing import Billing, TestClock
from lms_billing.domain.credit_notes import (
    CreditNote,
    CreditNoteRequest,
    CreditNoteStatus,
    credit_invoice,
)
from lms_billing.domain.customers import Address, TaxId
from lms_billing.domain.invoices import Invoice, mark_paid
from lms_billing.domain.tax import SellerTaxProfile, TaxRegistration
from lms_billing.errors import ValidationError
from lms_billing.rendering.context import invoice_view
from lms_billing.settings import BillingSettings
from lms_billing.settings import SellerDetails as SellerSettings

from .helpers import NOW, SELLER, pdf_pages, plain, taxed_invoice

RULES = {"a": [("FR", "vat", "0.20", "standard_rated")]}


def paid_invoice_with_two_credit_notes() -> tuple[Invoice, list[CreditNote]]:
    invoice = taxed_invoice([("a", 10_000, 2)], RULES)  # 200.00 + 40.00 VAT
    invoice = mark_paid(invoice, invoice.amount_due, NOW)
    refund, invoice = credit_invoice(
        invoice,
        CreditNoteRequest(amount=3_000, refund_amount=3_000),
        credit_note_id="cn_1",
        number="CN-2026-000001",
        now=NOW,
    )
    later = NOW + timedelta(days=2)
    credit, invoice = credit_invoice(
        invoice, CreditNoteRequest(amount=1_200), credit_note_id="cn_2", number="CN-2026-000002",
        now=later,
    )  # fmt: skip
    return invoice, [credit, refund]


def test_the_invoice_lists_its_credit_notes_in_date_order_with_their_effect() -> None:
    invoice, notes = paid_invoice_with_two_credit_notes()
    view = invoice_view(invoice, SELLER, locale="en_US", credit_notes=notes)
    assert [(n.number, n.date, n.amount, n.effect) for n in view.credit_notes] == [
        ("CN-2026-000001", "March 15, 2026", "€30.00", "Refunded: €30.00"),
        ("CN-2026-000002", "March 17, 2026", "€12.00", "Credited to customer balance: €12.00"),
    ]
    void = notes[0].model_copy(update={"status": CreditNoteStatus.VOID})
    german = invoice_view(invoice, SELLER, locale="de_DE", credit_notes=[void])
    assert german.credit_notes[0].void and german.credit_notes[0].effect == "Storniert"


def test_without_the_list_the_invoice_still_says_it_was_credited_after_payment() -> None:
    invoice, _ = paid_invoice_with_two_credit_notes()
    view = invoice_view(invoice, SELLER, locale="en_US")
    assert view.credit_notes == () and "Credited after payment: €42.00" in view.notes


def test_a_credit_note_of_another_invoice_is_refused() -> None:
    invoice, notes = paid_invoice_with_two_credit_notes()
    other = notes[0].model_copy(update={"invoice_id": "in_other"})
    with pytest.raises(ValidationError, match="in_other"):
        invoice_view(invoice, SELLER, credit_notes=[other])


SETTINGS = BillingSettings(
    seller=SellerSettings(
        name="Lernwerk GmbH",
        address=Address(line1="Torstraße 12", city="Berlin", postal_code="10119", country="DE"),
        tax_profile=SellerTaxProfile(
            country="DE", vat_id="DE136695976", registrations=(TaxRegistration(jurisdiction="EU"),)
        ),
        tax_ids=(TaxId(type="eu_vat", value="DE136695976"),),
    ),
    tax_engines=("eu_vat", "zero"),
)


def test_the_service_renders_credit_notes_on_the_invoice_and_tax_on_receipts() -> None:
    clock = TestClock(datetime(2026, 3, 14, 10, tzinfo=UTC))
    with Billing("memory://", settings=SETTINGS, clock=clock, load_entrypoints=False) as billing:
        customer = billing.customers.create(
            {"external_id": "x", "name": "Camille Martin", "locale": "fr_FR",
             "address": {"line1": "3 rue de la République", "city": "Lyon",
                         "postal_code": "69002", "country": "FR"}},
            idempotency_key="c",
        )  # fmt: skip
        invoices = billing.invoices
        draft = invoices.create_draft(customer.id, "EUR", idempotency_key="d")
        invoices.add_line(draft.id, description="Cours Python", unit_amount=10_000,
                          quantity=1, idempotency_key="l")  # fmt: skip
        invoice = invoices.finalize(
            draft.id, evidence={"billing_country": "FR", "ip_country": "FR"}, idempotency_key="f"
        )
        payment = invoices.pay(invoice.id, 12_000, payment_reference="pi", idempotency_key="p")
        invoices.create_credit_note(invoice.id, amount=2_400, refund_amount=2_400,
                                    idempotency_key="cn")  # fmt: skip
        html = plain(str(invoices.render(invoice.id)))
        pdf_bytes = invoices.render(invoice.id, "pdf")
        assert isinstance(pdf_bytes, bytes)
        pdf = pdf_pages(pdf_bytes)
        receipt = plain(str(invoices.render_receipt(payment.receipt.id)))

    assert "Avoirs émis sur cette facture" in html and "CN-2026-000001" in html
    assert "Remboursé: 24,00 €" in html
    (text,) = pdf
    assert "AVOIRS ÉMIS SUR CETTE FACTURE" in text
    assert "CN-2026-000001 14 mars 2026 24,00 € Remboursé: 24,00 €" in text
    assert "TVA FR 20 % 100,00 € 20,00 €" in text and "\nTVA 20,00 €\n" in text
    assert '<td class="num rate">20 %</td>' in receipt and "TVA FR 20 % incluse" in receipt
