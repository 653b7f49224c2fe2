"""BillingSettings: defaults that run offline, seller details as printed, series checks."""

from __future__ import annotations

import pytest

from lms_billing.domain.customers import Address
from lms_billing.domain.numbering import NumberingSeries
from lms_billing.errors import ConfigurationError, InvalidNumberingFormatError
from lms_billing.settings import BillingSettings, SellerDetails


def test_defaults_need_no_seller_and_compute_no_tax() -> None:
    settings = BillingSettings()
    assert settings.seller is None and settings.tax_engines == ("zero",)
    assert [
        s.id
        for s in (
            settings.invoice_numbering,
            settings.credit_note_numbering,
            settings.receipt_numbering,
        )
    ] == ["invoice", "credit_note", "receipt"]


def test_seller_is_printed_with_registration_number_and_logo_text() -> None:
    seller = SellerDetails(
        name="Lernwerk GmbH",
        address=Address(country="DE", city="Berlin"),
        registration_number="HRB 123456",
        logo_text="LW",
        legal_notes=("Managing director: A. Lovelace",),
    )
    printed = seller.for_rendering()
    assert printed.name == "LW · Lernwerk GmbH"
    assert printed.legal_notes == ("HRB 123456", "Managing director: A. Lovelace")


def test_series_must_not_share_a_counter() -> None:
    shared = NumberingSeries(id="invoice", prefix="CN")
    with pytest.raises(ConfigurationError):
        BillingSettings(credit_note_numbering=shared)


def test_a_series_format_that_could_repeat_numbers_is_refused() -> None:
    with pytest.raises(InvalidNumberingFormatError):
        BillingSettings(invoice_numbering={"id": "invoice", "format": "INV-{seq}"})
