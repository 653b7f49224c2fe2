"""The tax request/result models: validation at the boundary."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest

from lms_billing.domain.catalog import TaxBehavior
from lms_billing.domain.customers import Address, CustomerProfile, TaxExempt
from lms_billing.domain.tax import (
    ExemptionCertificate,
    LocationEvidence,
    SellerTaxProfile,
    TaxCustomer,
    TaxLine,
    TaxLineItem,
    TaxRegistration,
    TaxRequest,
    TaxResult,
)
from lms_billing.errors import InvalidAmountError, UnknownJurisdictionError, ValidationError

MakeRequest = Callable[..., TaxRequest]


def test_unknown_country_codes_raise_a_jurisdiction_error() -> None:
    with pytest.raises(UnknownJurisdictionError):
        TaxCustomer(country="XX")
    with pytest.raises(UnknownJurisdictionError):
        LocationEvidence(ip_country="ZZ")


def test_country_codes_are_normalized() -> None:
    assert TaxCustomer(country="de", region="by").model_dump()["country"] == "DE"
    assert TaxCustomer(country="us", region="ny").region == "NY"


def test_line_items_accept_the_catalog_tax_behavior_enum() -> None:
    item = TaxLineItem(line_id="a", amount=100, tax_behavior=TaxBehavior.INCLUSIVE)
    assert item.tax_behavior == "inclusive"


def test_unspecified_tax_behavior_must_be_resolved_first() -> None:
    with pytest.raises(ValidationError):
        TaxLineItem(line_id="a", amount=100, tax_behavior=TaxBehavior.UNSPECIFIED)


def test_amounts_are_whole_minor_units() -> None:
    with pytest.raises(InvalidAmountError):
        TaxLineItem(line_id="a", amount=1.5)


def test_rates_refuse_floats() -> None:
    with pytest.raises(InvalidAmountError):
        TaxLine(
            line_id="a",
            jurisdiction="DE",
            tax_type="vat",
            rate=0.19,
            taxable_amount=100,
            tax_amount=19,
            reason="standard_rated",
        )


def test_duplicate_line_ids_are_rejected(make_request: MakeRequest) -> None:
    with pytest.raises(ValidationError):
        request = make_request()
        type(request)(**{**dict(request), "items": request.items * 2})


def test_exemption_certificates_cover_their_jurisdiction_and_dates() -> None:
    cert = ExemptionCertificate(
        certificate_id="resale-1",
        jurisdiction="us-tx",
        valid_from=date(2025, 1, 1),
        valid_until=date(2025, 12, 31),
    )
    customer = TaxCustomer(country="US", region="TX", exemption_certificates=(cert,))
    assert customer.is_exempt("US-TX", date(2025, 6, 1))
    assert not customer.is_exempt("US-TX", date(2026, 1, 1))
    assert not customer.is_exempt("US-NY", date(2025, 6, 1))
    assert TaxCustomer(country="DE", tax_exempt=TaxExempt.EXEMPT).is_exempt("DE", date(2025, 1, 1))


def test_customer_from_profile_needs_an_address() -> None:
    profile = CustomerProfile(external_id="u1")
    with pytest.raises(UnknownJurisdictionError):
        TaxCustomer.from_profile(profile)
    located = profile.model_copy(update={"address": Address(country="AT", postal_code="1010")})
    assert TaxCustomer.from_profile(located).country == "AT"


def test_result_total_tax_sums_lines() -> None:
    line = TaxLine(
        line_id="a",
        jurisdiction="DE",
        tax_type="vat",
        rate=Decimal("0.19"),
        taxable_amount=100,
        tax_amount=19,
        reason="standard_rated",
    )
    result = TaxResult(engine="x", lines=(line, line.model_copy(update={"line_id": "b"})))
    assert result.total_tax == 38
    assert result.lines_for("b")[0].line_id == "b"


def test_registrations_are_dated_and_each_spell_is_its_own_entry() -> None:
    spells = (
        TaxRegistration(jurisdiction="gb", registered=False, threshold=0),  # while unregistered
        TaxRegistration(
            jurisdiction="GB", valid_from=date(2026, 1, 1), valid_until=date(2026, 6, 30)
        ),
        TaxRegistration(jurisdiction="GB", valid_from=date(2026, 10, 1), tax_id="GB1"),
    )
    seller = SellerTaxProfile(country="US", registrations=spells)
    assert not seller.is_registered("GB", date(2025, 12, 31))
    assert seller.is_registered("GB", date(2026, 1, 1))
    assert seller.is_registered("GB", date(2026, 6, 30))
    assert not seller.is_registered("GB", date(2026, 7, 1))
    again = seller.registration("GB", date(2027, 1, 1))
    assert again is not None and again.tax_id == "GB1"
    gap = seller.registration("GB", date(2026, 8, 1))
    assert gap is not None and gap.threshold == 0 and not gap.registered
    assert seller.is_registered("GB")  # undated question: some spell is registered
    dated_only = SellerTaxProfile(
        country="US",
        registrations=(TaxRegistration(jurisdiction="NO", valid_from=date(2026, 5, 1)),),
    )
    before = dated_only.registration("NO", date(2026, 4, 30))
    assert before is not None and not before.registered  # recorded, but not yet in force
    assert dated_only.registration("CH", date(2026, 4, 30)) is None
    with pytest.raises(ValidationError):
        TaxRegistration(
            jurisdiction="GB", valid_from=date(2026, 2, 1), valid_until=date(2026, 1, 1)
        )
