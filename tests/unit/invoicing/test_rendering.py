"""HTML and PDF rendering: localized amounts and dates, parties, tax breakdown, fonts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lms_billing.domain.credit_notes import CreditLineRequest, CreditNoteRequest, credit_invoice
from lms_billing.domain.customers import Address, TaxId
from lms_billing.domain.invoices import (
    Invoice,
    InvoiceLine,
    Period,
    add_line,
    compute_tax,
    finalize,
    mark_paid,
)
from lms_billing.domain.receipts import Receipt, receipt_for_invoice_payment
from lms_billing.domain.tax import TaxLine, TaxRequest, TaxResult
from lms_billing.errors import ConfigurationError
from lms_billing.errors import ValidationError as BillingValidationError
from lms_billing.rendering import HtmlRenderer, Party, SellerDetails
from lms_billing.rendering.pdf import FontSet, PdfRenderer, find_fonts

from .helpers import NOW, FlatVatEngine, draft, tax_context

SELLER = SellerDetails(
    name="Lernwerk Akademie GmbH",
    email="billing@lernwerk.example",
    address=Address(line1="Torstraße 12", city="Berlin", postal_code="10119", country="DE"),
    tax_ids=(TaxId(type="eu_vat", value="DE123456789"),),
    legal_notes=("Amtsgericht Berlin HRB 123456",),
)
BUYER: dict[str, Any] = dict(
    customer_name="Ada Lovelace",
    customer_email="ada@example.org",
    customer_address=Address(line1="1 Main St", city="Springfield", state="IL", country="US"),
    customer_tax_ids=(TaxId(type="us_ein", value="12-3456789"),),
)

# Net 1,234.50 + 19 % VAT (234.56) = 1,469.06; issued 15 March 2026.
EXPECTED = {
    "en_US": ("€1,234.50", "€1,469.06", "March 15, 2026", "19%", "Invoice"),
    "de_DE": ("1.234,50\xa0€", "1.469,06\xa0€", "15. März 2026", "19\xa0%", "Rechnung"),
    "fr_FR": ("1\u202f234,50\xa0€", "1\u202f469,06\xa0€", "15 mars 2026", "19\xa0%", "Facture"),
    "ja_JP": ("€1,234.50", "€1,469.06", "2026年3月15日", "19%", "請求書"),
    "pt_BR": ("€\xa01.234,50", "€\xa01.469,06", "15 de março de 2026", "19%", "Fatura"),
}


def sample_invoice(**overrides: object) -> Invoice:
    fields = {**BUYER, "due_date": NOW + timedelta(days=14), **overrides}
    invoice = draft(**fields)
    invoice = add_line(
        invoice,
        InvoiceLine(
            id="l1",
            description="Data science course",
            unit_amount=123_450,
            quantity=1,
            amount=123_450,
            period=Period(start=NOW, end=NOW + timedelta(days=30)),
        ),
    )
    invoice = compute_tax(invoice, FlatVatEngine(), tax_context())
    return finalize(invoice, "INV-2026-000123", NOW)


def sample_receipt(invoice: Invoice) -> Receipt:
    paid = mark_paid(invoice, invoice.amount_due, NOW)
    return receipt_for_invoice_payment(
        paid,
        receipt_id="rct_1",
        number="RCT-2026-000001",
        payment_id="pi_1",
        amount=invoice.amount_due,
        paid_at=NOW,
        payment_method="Visa •••• 4242",
    )


@pytest.mark.parametrize("locale", sorted(EXPECTED))
def test_invoice_html_is_localized(locale: str) -> None:
    net, total, issued, rate, title = EXPECTED[locale]
    html = HtmlRenderer().render_invoice(sample_invoice(), SELLER, locale=locale)
    for expected in (net, total, issued, rate, title, "INV-2026-000123"):
        assert expected in html, expected
    assert f'lang="{locale[:2]}"' in html


def test_invoice_html_has_parties_tax_ids_breakdown_and_footer() -> None:
    html = HtmlRenderer().render_invoice(sample_invoice(), SELLER, locale="en_US")
    for expected in (
        "Lernwerk Akademie GmbH",
        "Torstraße 12",
        "VAT: DE123456789",
        "Ada Lovelace",
        "Springfield, IL",
        "United States",
        "EIN: 12-3456789",
        "Tax breakdown",
        "VAT DE 19%",
        "€234.56",
        "Amtsgericht Berlin HRB 123456",
        "March 15, 2026 \u2013 April 14, 2026",
        "April 14, 2026",
    ):
        assert expected in html, expected


class ReverseChargeEngine:
    name = "rc"

    def handles(self, request: TaxRequest) -> bool:
        return True

    def calculate(self, request: TaxRequest) -> TaxResult:
        lines = tuple(
            TaxLine(
                line_id=item.line_id,
                jurisdiction="FR",
                tax_type="vat",
                rate=0,
                taxable_amount=item.amount,
                tax_amount=0,
                reverse_charge=True,
                reason="reverse_charge",
            )
            for item in request.items
        )
        return TaxResult(engine=self.name, lines=lines, notes=("Reverse charge",))


def test_reverse_charge_note_is_printed_in_the_readers_language() -> None:
    invoice = add_line(draft(), InvoiceLine(id="l1", description="Course", amount=10_000))
    invoice = finalize(compute_tax(invoice, ReverseChargeEngine(), tax_context()), "INV-9", NOW)
    html = HtmlRenderer().render_invoice(invoice, SELLER, locale="fr_FR")
    assert "Autoliquidation (Reverse charge)" in html
    assert "VAT FR 0\xa0% (Autoliquidation)" in html


def test_html_is_escaped() -> None:
    invoice = sample_invoice(customer_name="<script>alert(1)</script>")
    html = HtmlRenderer().render_invoice(invoice, SELLER)
    assert "<script>alert" not in html and "&lt;script&gt;" in html


def test_receipt_and_credit_note_html() -> None:
    invoice = sample_invoice()
    receipt_html = HtmlRenderer().render_receipt(sample_receipt(invoice), SELLER, locale="de_DE")
    assert "Zahlungsbeleg" in receipt_html and "Visa •••• 4242" in receipt_html
    assert "USt-IdNr.: DE123456789" in receipt_html
    assert "1.469,06\xa0€" in receipt_html
    note, _ = credit_invoice(
        invoice,
        CreditNoteRequest(lines=(CreditLineRequest(invoice_line_id="l1", amount=10_000),)),
        credit_note_id="cn_1",
        number="CN-2026-000001",
        now=NOW,
    )
    buyer = Party(name="Ada Lovelace")
    html = HtmlRenderer().render_credit_note(note, SELLER, locale="pt_BR", buyer=buyer)
    for expected in ("Nota de crédito", "CN-2026-000001", "INV-2026-000123", "€\xa0119,00"):
        assert expected in html, expected


def test_templates_can_be_overridden(tmp_path: Path) -> None:
    (tmp_path / "invoice.html").write_text(
        '{% extends "base.html" %}{% block body %}<p class="custom">{{ doc.number }}</p>'
        "{% endblock %}",
        encoding="utf-8",
    )
    html = HtmlRenderer(tmp_path).render_invoice(sample_invoice(), SELLER)
    assert '<p class="custom">INV-2026-000123</p>' in html and "Lernwerk" in html
    with pytest.raises(ConfigurationError):
        HtmlRenderer(tmp_path / "missing")


def test_labels_can_be_overridden_and_locales_checked() -> None:
    renderer = HtmlRenderer(labels={"en": {"invoice": "Tax invoice"}})
    assert "Tax invoice" in renderer.render_invoice(sample_invoice(), SELLER)
    with pytest.raises(BillingValidationError):
        HtmlRenderer().render_invoice(sample_invoice(), SELLER, locale="xx_YY")
    with pytest.raises(BillingValidationError):
        HtmlRenderer().render_invoice(sample_invoice(), SELLER, timezone="Nowhere/City")


def test_dates_follow_the_readers_time_zone() -> None:
    late = datetime(2026, 3, 15, 23, 30, tzinfo=UTC)
    invoice = sample_invoice().model_copy(update={"finalized_at": late})
    assert "March 16, 2026" in HtmlRenderer().render_invoice(invoice, SELLER, timezone="Asia/Tokyo")


# --- PDF -----------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", sorted(EXPECTED))
def test_pdfs_are_produced_for_every_document_and_locale(locale: str) -> None:
    renderer = PdfRenderer()
    invoice = sample_invoice()
    note, _ = credit_invoice(
        invoice,
        CreditNoteRequest(amount=1_000),
        credit_note_id="cn_1",
        number="CN-1",
        now=NOW,
    )
    documents = (
        renderer.render_invoice(invoice, SELLER, locale=locale),
        renderer.render_receipt(sample_receipt(invoice), SELLER, locale=locale),
        renderer.render_credit_note(note, SELLER, locale=locale),
    )
    for pdf in documents:
        assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
        assert len(pdf) > 2_000


def test_long_invoices_flow_onto_more_pages() -> None:
    invoice = draft(**BUYER)
    for index in range(60):
        invoice = add_line(
            invoice, InvoiceLine(id=f"l{index}", description=f"Seat {index}", amount=1_000)
        )
    invoice = finalize(compute_tax(invoice, FlatVatEngine(), tax_context()), "INV-1", NOW)
    pdf = PdfRenderer().render_invoice(invoice, SELLER)
    assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf)) >= 2


def latin_only() -> FontSet:
    fonts = find_fonts()
    return FontSet(regular=fonts.regular, bold=fonts.bold, cjk=None)


def test_japanese_pdf_without_a_cjk_font_is_a_clear_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="CJK"):
        PdfRenderer(latin_only()).render_invoice(sample_invoice(), SELLER, locale="ja_JP")


def test_characters_no_font_covers_never_render_as_tofu() -> None:
    invoice = sample_invoice(customer_name="山田 太郎")
    with pytest.raises(ConfigurationError, match="font"):
        PdfRenderer(latin_only()).render_invoice(invoice, SELLER, locale="de_DE")
    assert PdfRenderer().render_invoice(invoice, SELLER, locale="de_DE").startswith(b"%PDF")


def test_missing_latin_font_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="DejaVu"):
        find_fonts([tmp_path])
