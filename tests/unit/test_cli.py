"""The command line: the demo runs offline, is repeatable, and migrate creates the schema."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from lms_billing.cli import main
from lms_billing.clock import TestClock

# The demo's one-off invoices use the system clock (document numbers carry the year). Tests pin
# that clock to a year that is neither "now" nor the subscription simulation's 2026, so they
# pass in every year and show that the numbers follow the clock.
PINNED = datetime(2031, 3, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lms_billing.billing.SystemClock", lambda: TestClock(PINNED))


@pytest.mark.usefixtures("pinned_clock")
def test_demo_quotes_in_three_currencies_and_locales(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "5 products, 1 plan(s)" in out
    # Explicit amounts (EUR, JPY list prices) and converted ones, each in three locales.
    assert "en_US: $49.00" in out and "de_DE: 49,00\xa0$" in out
    assert "de_DE: 45,00\xa0€" in out and "ja_JP: ￥7,500" in out
    assert "en_US: $159.00" in out  # 5 seats at 15.00 + 7 at 12.00, graduated
    assert "1 USD = 0.9217 EUR" in out
    assert (tmp_path / "demo.db").exists()

    # The invoice: Python 101 (49.00) + 12 seats (159.00), LAUNCH15 takes 15 % off.
    assert "Invoice INV-2031-000001 for Ada Lovelace" in out
    assert "total    $176.80" in out
    html = (tmp_path / "invoice-INV-2031-000001.html").read_text(encoding="utf-8")
    assert "INV-2031-000001" in html and "$176.80" in html and "-$31.20" in html
    assert (tmp_path / "invoice-INV-2031-000001.pdf").read_bytes().startswith(b"%PDF-")
    receipt = (tmp_path / "receipt-RCT-2031-000001.html").read_text(encoding="utf-8")
    assert "RCT-2031-000001" in receipt and "INV-2031-000001" in receipt
    assert (tmp_path / "receipt-RCT-2031-000001.pdf").read_bytes().startswith(b"%PDF-")

    # Tax: French VAT for an evidenced B2C sale, reverse charge for a German business with a
    # valid VAT id, New York sales tax for a US learner.
    assert "[FR vat 20%]" in out and "total    €120.00" in out
    assert "[DE vat 0% reverse charge]" in out and "note on the invoice: 'Reverse charge'" in out
    assert "[US-NY sales_tax 4%]" in out and "total    $114.40" in out
    reverse_charge = (tmp_path / "invoice-TAX-2031-000002-reverse-charge.html").read_text(
        encoding="utf-8"
    )
    assert "Reverse charge" in reverse_charge and "DE136695976" in reverse_charge

    # Run again on the same database: idempotency keys replay, nothing is duplicated.
    assert main(["demo", "--out", str(tmp_path)]) == 0
    again = capsys.readouterr().out
    assert "5 products, 1 plan(s)" in again
    assert "Invoice INV-2031-000001" in again and "INV-2031-000002" not in again


def test_migrate_creates_the_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'billing.db'}"
    assert main(["migrate", "--storage-url", url]) == 0
    assert capsys.readouterr().out.strip().endswith(f"({url}).")  # says where it migrated
    tables = set(inspect(create_engine(url)).get_table_names())
    assert {"customers", "products", "prices", "plans", "idempotency_keys"} <= tables


def test_unknown_storage_scheme_is_a_clean_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate", "--storage-url", "mongodb://nowhere"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error [configuration_error]") and "mongodb" in err


@pytest.mark.usefixtures("pinned_clock")
def test_demo_without_pdf_fonts_still_writes_html(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from lms_billing.rendering import pdf

    # A bare machine: the PDF renderer finds no fonts anywhere.
    original = pdf.PdfRenderer.__init__

    def no_fonts(self: pdf.PdfRenderer, *args: object, **kwargs: object) -> None:
        original(self, font_dirs=(tmp_path / "no-fonts",))

    monkeypatch.setattr(pdf.PdfRenderer, "__init__", no_fonts)
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "invoice-INV-2031-000001.html").exists()
    assert not (tmp_path / "invoice-INV-2031-000001.pdf").exists()
    assert "skipped invoice-INV-2031-000001.pdf: No DejaVu Sans font found" in out
