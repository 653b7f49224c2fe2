"""How tax reads on documents: names per type and jurisdiction in each language, the rate of
every line, the breakdown per rate, zero-tax rows and the notes exemptions require."""

from __future__ import annotations

import pytest

from lms_billing.domain.credit_notes import CreditNoteRequest, credit_invoice
from lms_billing.domain.invoices import Invoice, InvoiceLine, add_line, mark_paid
from lms_billing.domain.receipts import receipt_for_invoice_payment
from lms_billing.rendering import HtmlRenderer
from lms_billing.rendering.context import Row, credit_note_view, invoice_view, receipt_view
from lms_billing.rendering.labels import labels_for
from lms_billing.rendering.tax_labels import tax_name

from .helpers import NOW, SELLER, money, plain, taxed_invoice

FR_COURSE_AND_EBOOK = {
    "course": [("FR", "vat", "0.20", "standard_rated")],
    "ebook": [("FR", "vat", "0.055", "reduced_rated")],
}
LINES = [("course", 10_000, 1), ("ebook", 1_999, 3)]  # tax 20.00 + 5.5 % of 59.97 = 3.30


@pytest.mark.parametrize(
    ("tax_type", "jurisdiction", "locale", "expected"),
    [
        ("vat", "FR", "fr_FR", "TVA"),
        ("vat", "FR", "de_DE", "USt."),
        ("vat", "CH", "de_DE", "MWST"),
        ("vat", "CH", "fr_FR", "TVA"),
        ("vat", "FR", "ja_JP", "付加価値税"),
        ("vat", "PT", "pt_BR", "IVA"),
        ("vat", "GB", "en_US", "VAT"),
        ("jct", "JP", "ja_JP", "消費税"),
        ("jct", "JP", "en_US", "Consumption tax"),
        ("gst", "CA", "fr_FR", "TPS"),
        ("gst", "AU", "fr_FR", "GST"),
        ("hst", "CA-ON", "fr_FR", "TVH"),
        ("qst", "CA-QC", "en_US", "QST"),
        ("sales_tax", "US-NY", "en_US", "Sales tax"),
        ("sales_tax", "US-NY", "fr_FR", "Taxe de vente"),
        ("amusement_tax", "US-IL:city:Chicago", "en_US", "Amusement tax"),
        ("igst", "IN", "de_DE", "IGST"),
        ("none", "US", "de_DE", "Steuer"),
    ],
)
def test_tax_names_come_from_type_jurisdiction_and_language(
    tax_type: str, jurisdiction: str, locale: str, expected: str
) -> None:
    assert tax_name(tax_type, jurisdiction, labels_for(locale)) == expected


def test_every_line_shows_its_rate_and_the_breakdown_has_each_rate() -> None:
    invoice = taxed_invoice(LINES, FR_COURSE_AND_EBOOK)
    view = invoice_view(invoice, SELLER, locale="de_DE")
    assert view.tax_rate_heading == "USt." and view.tax_name == "USt."
    assert [plain(line.tax_rate) for line in view.lines] == ["20 %", "5,5 %"]
    assert [(plain(r.label), plain(r.amount)) for r in view.tax_rows] == [
        ("USt. FR 5,5 %", "3,30 €"),
        ("USt. FR 20 %", "20,00 €"),
    ]
    assert Row("USt.", money(2_330, "de_DE")) in view.totals
    html = HtmlRenderer().render_invoice(invoice, SELLER, locale="de_DE")
    assert '<th class="num">USt.</th>' in html
    assert '<td class="num rate">5,5\xa0%</td>' in html


def test_french_vat_is_never_called_consumption_tax_in_japanese() -> None:
    html = HtmlRenderer().render_invoice(taxed_invoice(LINES, FR_COURSE_AND_EBOOK), SELLER,
                                         locale="ja_JP")  # fmt: skip
    assert "付加価値税 FR 20%" in html and "消費税" not in html
    jct = taxed_invoice([("a", 11_000, 1)], {"a": [("JP", "jct", "0.10", "standard_rated")]},
                        currency="JPY")  # fmt: skip
    view = invoice_view(jct, SELLER, locale="ja_JP")
    assert view.tax_name == "消費税" and view.tax_rate_heading == "税率"
    assert [r.label for r in view.tax_rows] == ["消費税 JP 10%"]


def test_stacked_taxes_name_each_rate_on_the_line() -> None:
    quebec = {"a": [("CA", "gst", "0.05", "standard_rated"),
                    ("CA-QC", "qst", "0.09975", "standard_rated")]}  # fmt: skip
    invoice = taxed_invoice([("a", 10_000, 1)], quebec, currency="CAD")
    english = invoice_view(invoice, SELLER, locale="en_US")
    assert english.lines[0].tax_rate == "GST 5%\nQST 9.975%"
    assert english.tax_rate_heading == "Tax rate" and english.tax_name == "Tax"
    french = invoice_view(invoice, SELLER, locale="fr_FR")
    assert plain(french.lines[0].tax_rate) == "TPS 5 %\nTVQ 9,975 %"
    assert [plain(r.label) for r in french.tax_rows] == ["TPS CA 5 %", "TVQ CA-QC 9,975 %"]
    assert french.tax_name == "Taxes"


@pytest.mark.parametrize(
    ("locale", "label"),
    [("en_US", "Tax"), ("de_DE", "Steuer"), ("fr_FR", "Taxes"), ("ja_JP", "税額"),
     ("pt_BR", "Impostos")],
)  # fmt: skip
def test_zero_tax_invoices_print_a_zero_tax_row(locale: str, label: str) -> None:
    invoice = taxed_invoice(LINES, {})  # the zero engine: no tax lines at all
    view = invoice_view(invoice, SELLER, locale=locale)
    assert Row(label, money(0, locale)) in view.totals
    assert not view.show_tax_rate and not view.tax_rows
    labels = [row.label for row in view.totals]
    assert labels.index(label) < labels.index(view.labels["total"])


def test_a_draft_before_tax_says_when_tax_is_calculated() -> None:
    draft = Invoice(id="in_1", customer_id="c", currency="EUR", created_at=NOW)
    draft = add_line(draft, InvoiceLine(id="a", description="Course", amount=1_000))
    view = invoice_view(draft, SELLER)
    assert Row("Tax", "Calculated at finalization") in view.totals


def test_reverse_charge_prints_the_zero_rate_and_the_mention_once() -> None:
    rules = {"a": [("FR", "vat", "0", "reverse_charge", True)]}
    invoice = taxed_invoice([("a", 58_800, 1)], rules, notes=("Reverse charge",))
    german = invoice_view(invoice, SELLER, locale="de_DE")
    assert plain(german.lines[0].tax_rate) == "0 %"
    rc = "Steuerschuldnerschaft des Leistungsempfängers"
    assert [plain(r.label) for r in german.tax_rows] == [f"USt. FR 0 % ({rc})"]
    assert german.notes == (f"{rc} (Reverse charge)",)
    assert Row("USt.", money(0, "de_DE")) in german.totals
    # Without the engine's note (credit notes carry none) the mention is still printed once.
    note, _ = credit_invoice(invoice, CreditNoteRequest(amount=1_000), credit_note_id="cn",
                             number="CN-1", now=NOW)  # fmt: skip
    assert credit_note_view(note, SELLER, locale="en_US").notes == ("Reverse charge",)
    assert credit_note_view(note, SELLER, locale="fr_FR").notes == (
        "Autoliquidation (Reverse charge)",
    )


def test_exempt_customers_get_the_exemption_note_and_not_collected_is_said() -> None:
    exempt = taxed_invoice(LINES, {k: [("FR", "vat", "0", "exempt")] for k in ("course", "ebook")})
    view = invoice_view(exempt, SELLER, locale="fr_FR")
    assert [plain(r.label) for r in view.tax_rows] == ["TVA FR 0 % (exonéré)"]
    assert view.notes == ("TVA non facturée : le client est exonéré de TVA.",)
    rules = {"course": [("US-TX", "sales_tax", "0", "no_nexus")]}
    unregistered = invoice_view(taxed_invoice(LINES[:1], rules, currency="USD"), SELLER)
    assert [r.label for r in unregistered.tax_rows] == ["Sales tax US-TX 0% (not collected)"]
    assert unregistered.notes == ()


def test_stripe_jurisdiction_levels_print_readably() -> None:
    rules = {"a": [("US-CA:county:Los Angeles", "sales_tax", "0.0025", "standard_rated")]}
    view = invoice_view(taxed_invoice([("a", 10_000, 1)], rules, currency="USD"), SELLER)
    assert [r.label for r in view.tax_rows] == ["Sales tax US-CA (Los Angeles) 0.25%"]


def test_tax_names_can_be_overridden_like_any_label() -> None:
    invoice = taxed_invoice(LINES, FR_COURSE_AND_EBOOK)
    html = HtmlRenderer(labels={"de": {"tax_name_vat": "MwSt."}}).render_invoice(
        invoice, SELLER, locale="de_DE"
    )
    assert "MwSt. FR 20\xa0%" in html and "USt." not in html.replace("USt-IdNr.", "")


def test_receipts_name_the_tax_included_per_rate_from_their_invoice() -> None:
    invoice = taxed_invoice(LINES, FR_COURSE_AND_EBOOK)
    paid = mark_paid(invoice, invoice.amount_due, NOW)
    receipt = receipt_for_invoice_payment(
        paid, receipt_id="r", number="RCT-1", payment_id="pi", amount=invoice.amount_due,
        paid_at=NOW,
    )  # fmt: skip
    view = receipt_view(receipt, SELLER, locale="en_US", invoice=paid)
    assert [line.tax_rate for line in view.lines] == ["20%", "5.5%"]
    assert Row("VAT FR 5.5% included", "€3.30") in view.totals
    assert Row("VAT FR 20% included", "€20.00") in view.totals
    alone = receipt_view(receipt, SELLER, locale="en_US")  # no invoice: the total, generically
    assert Row("Tax included", "€23.30") in alone.totals and not alone.show_tax_rate
    untaxed = taxed_invoice(LINES, {})
    paid = mark_paid(untaxed, untaxed.amount_due, NOW)
    receipt = receipt_for_invoice_payment(
        paid, receipt_id="r", number="RCT-2", payment_id="pi", amount=paid.amount_due,
        paid_at=NOW,
    )  # fmt: skip
    assert Row("Tax included", "€0.00") in receipt_view(receipt, SELLER, invoice=paid).totals


def test_inclusive_prices_are_marked_in_the_breakdown_only() -> None:
    rules = {"a": [("JP", "jct", "0.10", "standard_rated")]}
    invoice = taxed_invoice([("a", 11_000, 1)], rules, currency="JPY", inclusive=frozenset("a"))
    view = invoice_view(invoice, SELLER, locale="ja_JP")
    assert [r.label for r in view.tax_rows] == ["消費税 JP 10% (内税)"]
    assert view.lines[0].tax_rate == "10%"
    assert Row("消費税", money(1_000, "ja_JP", "JPY")) in view.totals
    assert Row("税抜合計", money(10_000, "ja_JP", "JPY")) in view.totals
