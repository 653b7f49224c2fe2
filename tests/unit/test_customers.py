"""Customer profiles: country codes, locales, emails and timestamps are validated."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lms_billing.domain.customers import Address, Customer, CustomerProfile, TaxId
from lms_billing.errors import UnknownCurrencyError, ValidationError


def test_country_codes_are_normalised_and_pseudo_regions_rejected() -> None:
    assert Address(country=" de ").country == "DE"
    for bad in ("ZZ", "EU", "XX", "DEU", "", 49):
        with pytest.raises(ValidationError):
            Address(country=bad)


def test_locales_are_babel_identifiers() -> None:
    assert CustomerProfile(external_id="u1", locale="pt-BR").locale == "pt_BR"
    with pytest.raises(ValidationError):
        CustomerProfile(external_id="u1", locale="xx_QQ")


def test_emails_get_a_shape_check() -> None:
    assert CustomerProfile(external_id="u1", email=" ada@example.org ").email == "ada@example.org"
    for bad in ("ada", "ada@", "@example.org", "ada@example", "a da@example.org"):
        with pytest.raises(ValidationError):
            CustomerProfile(external_id="u1", email=bad)


def test_preferred_currency_must_exist() -> None:
    assert CustomerProfile(external_id="u1", preferred_currency="eur").preferred_currency == "EUR"
    with pytest.raises(UnknownCurrencyError):
        CustomerProfile(external_id="u1", preferred_currency="EUX")


def test_customers_need_an_aware_creation_time_and_are_frozen() -> None:
    customer = Customer(
        id="cus_1",
        external_id="u1",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        tax_ids=(TaxId(type="eu_vat", value="DE136695976"),),
    )
    with pytest.raises(ValidationError):
        Customer(id="cus_2", external_id="u2", created_at=datetime(2026, 1, 1))
    with pytest.raises(Exception, match="frozen"):
        customer.email = "x@example.org"  # type: ignore[misc]
