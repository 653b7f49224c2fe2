"""HTML and PDF rendering: localized amounts and dates, parties, tax breakdown, fonts."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

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
from lms_billing.money import format_money, from_minor_units
from lms_billing.rendering import HtmlRenderer, Party, SellerDetails
from lms_billing.rendering.pdf import FontSet, PdfRenderer, find_fonts

from .helpers import NOW, FlatVatEngine, draft, make_line, tax_context

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


def money(minor: int, locale: str) -> str:
    return format_money(from_minor_units(minor, "EUR"), locale)


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
    assert "TVA FR 0\xa0% (Autoliquidation)" in html


def test_a_negative_invoice_says_the_credit_went_to_the_balance() -> None:
    downgrade = add_line(draft(**BUYER), make_line("unused_pro", -1_000))
    downgrade = add_line(downgrade, make_line("rest_of_basic", 291))
    final = finalize(compute_tax(downgrade, FlatVatEngine(), tax_context()), "INV-9", NOW)
    assert final.credited_to_balance == 844
    for locale, label in [("en_US", "Credited to your balance"), ("pt_BR", "Creditado")]:
        html = HtmlRenderer().render_invoice(final, SELLER, locale=locale)
        row = html.split(label, 1)[1].split("</tr>", 1)[0]
        assert money(844, locale) in row  # a positive amount: owed to the customer
    positive = HtmlRenderer().render_invoice(sample_invoice(), SELLER, locale="en_US")
    assert "Credited to your balance" not in positive


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


def pdf_pages(pdf: bytes) -> list[str]:
    """The text of each page, with no-break and narrow spaces read as plain spaces."""
    pages = PdfReader(io.BytesIO(pdf)).pages
    return [page.extract_text().replace("\xa0", " ").replace("\u202f", " ") for page in pages]


def plain(text: str) -> str:
    return text.replace("\xa0", " ").replace("\u202f", " ")


# What each locale prints for the sample invoice (net 1,234.50 + 19 % VAT 234.56), its
# receipt and a credit note of 10.00 including tax (8.40 net + 1.60 VAT).
PDF_WORDS = {
    "en_US": ("VAT", "Tax breakdown", "VAT DE 19% included", "Credit note", "Page 1/1"),
    "de_DE": ("USt.", "Steueraufstellung", "Enthaltene USt. DE 19 %", "Gutschrift", "Seite 1/1"),
    "fr_FR": ("TVA", "Détail des taxes", "TVA DE 19 % incluse", "Avoir", "Page 1/1"),
    "ja_JP": ("付加価値税", "税率別内訳", "うち付加価値税 DE 19%", "クレジットノート",
              "ページ 1/1"),
    "pt_BR": ("IVA", "Detalhamento de impostos", "IVA DE 19% incluído", "Nota de crédito",
              "Página 1/1"),
}  # fmt: skip


@pytest.mark.parametrize("locale", sorted(EXPECTED))
def test_pdf_text_has_amounts_labels_tax_breakdown_and_numbers(locale: str) -> None:
    net, total, issued, rate, title = (plain(x) for x in EXPECTED[locale])
    tax_name, breakdown, included, note_title, page = PDF_WORDS[locale]
    renderer = PdfRenderer()
    invoice = sample_invoice()
    html = plain(HtmlRenderer().render_invoice(invoice, SELLER, locale=locale))
    assert f"{tax_name} DE {rate}" in html  # the HTML names the tax the same way

    (text,) = pdf_pages(renderer.render_invoice(invoice, SELLER, locale=locale))
    for expected in (title.upper() if locale != "ja_JP" else title, "INV-2026-000123", issued,
                     net, total, "Lernwerk Akademie GmbH", "Ada Lovelace", page):  # fmt: skip
        assert expected in text, expected
    # The line's rate, the tax total under the tax's own name, the breakdown per rate.
    assert re.search(rf"1 {re.escape(net)} {re.escape(rate)} {re.escape(net)}", text), text
    tax_amount = plain(money(23_456, locale))
    assert f"\n{tax_name} {tax_amount}\n" in text
    assert breakdown.upper() in text.upper()
    assert f"{tax_name} DE {rate} {net} {tax_amount}" in text

    receipt = sample_receipt(invoice)
    (text,) = pdf_pages(renderer.render_receipt(receipt, SELLER, locale=locale, invoice=invoice))
    assert "RCT-2026-000001" in text and "INV-2026-000123" in text and "Visa •••• 4242" in text
    assert f"{included} {tax_amount}" in text
    assert f"1 {rate} {total}" in text  # the line, tax included, with its rate

    note, _ = credit_invoice(
        invoice, CreditNoteRequest(amount=1_000), credit_note_id="cn_1", number="CN-1", now=NOW
    )
    (text,) = pdf_pages(renderer.render_credit_note(note, SELLER, locale=locale))
    assert note_title.upper() in text.upper() and "CN-1" in text and "INV-2026-000123" in text
    for amount in (840, 160, 1_000):
        assert plain(money(amount, locale)) in text
    assert f"{tax_name} DE {rate} {plain(money(840, locale))} {plain(money(160, locale))}" in text


def test_long_invoices_repeat_number_and_page_on_every_page() -> None:
    invoice = draft(**BUYER)
    description = "Seat licence for course module {} with a long title that needs two lines"
    for index in range(40):
        line = InvoiceLine(id=f"l{index}", description=description.format(index), amount=1_000)
        invoice = add_line(invoice, line)
    invoice = finalize(compute_tax(invoice, FlatVatEngine(), tax_context()), "INV-1", NOW)
    pages = pdf_pages(PdfRenderer().render_invoice(invoice, SELLER))
    count = len(pages)
    assert count >= 2
    for number, text in enumerate(pages, start=1):
        assert f"Invoice INV-1 · Page {number}/{count}" in text  # footer of every page
        if number > 1:  # running header, then the repeated table heading
            heading = f"Invoice INV-1 Page {number}/{count}\nDESCRIPTION QTY VAT AMOUNT\n"
            assert text.startswith(heading), text[:80]
    everything = "\n".join(pages)
    for index in range(40):  # every line printed once, left-aligned: never justified
        assert everything.count(f"module {index} with") == 1
    assert "  " not in everything
    assert "Total €476.00" in pages[-1] and "VAT DE 19% €400.00 €76.00" in pages[-1]


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
