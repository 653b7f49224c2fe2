"""US sales tax table engine: nexus, taxability, exemptions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest

from lms_billing.domain.tax import (
    ExemptionCertificate,
    SellerTaxProfile,
    TaxRegistration,
    TaxRequest,
)
from lms_billing.errors import UnknownJurisdictionError
from lms_billing.tax.us_sales_tax import UsSalesTaxEngine

MakeRequest = Callable[..., TaxRequest]
US_SELLER = SellerTaxProfile(country="US", region="DE")


def _us(make_request: MakeRequest, state: str | None, **kw: object) -> TaxRequest:
    kw.setdefault("seller", US_SELLER)
    return make_request(customer_country="US", region=state, currency="USD", **kw)


def test_taxable_state_with_nexus_charges_the_state_rate(make_request: MakeRequest) -> None:
    result = UsSalesTaxEngine(nexus=["NY"]).calculate(_us(make_request, "NY"))
    (line,) = result.lines
    assert (line.jurisdiction, line.tax_type, line.rate, line.tax_amount) == (
        "US-NY",
        "sales_tax",
        Decimal("0.04"),
        400,
    )


def test_no_nexus_means_no_tax_with_reason(make_request: MakeRequest) -> None:
    result = UsSalesTaxEngine(nexus=["NY"]).calculate(_us(make_request, "WA"))
    assert [(li.tax_amount, li.reason) for li in result.lines] == [(0, "no_nexus")]


def test_a_state_registration_counts_as_nexus(make_request: MakeRequest) -> None:
    seller = SellerTaxProfile(country="US", registrations=(TaxRegistration(jurisdiction="US-WA"),))
    result = UsSalesTaxEngine().calculate(_us(make_request, "WA", seller=seller))
    assert result.total_tax == 650


def test_a_state_registration_counts_from_its_first_day(make_request: MakeRequest) -> None:
    dated = TaxRegistration(jurisdiction="US-WA", valid_from=date(2026, 7, 1))
    seller = SellerTaxProfile(country="US", registrations=(dated,))
    engine = UsSalesTaxEngine()
    before = engine.calculate(_us(make_request, "WA", seller=seller, on=date(2026, 6, 30)))
    assert before.total_tax == 0 and before.lines[0].reason == "no_nexus"
    after = engine.calculate(_us(make_request, "WA", seller=seller, on=date(2026, 7, 1)))
    assert after.total_tax == 650


def test_states_that_do_not_tax_digital_services(make_request: MakeRequest) -> None:
    result = UsSalesTaxEngine(nexus=["CA", "OR"]).calculate(_us(make_request, "CA"))
    assert [(li.tax_amount, li.reason) for li in result.lines] == [(0, "not_taxable")]
    result = UsSalesTaxEngine(nexus=["CA", "OR"]).calculate(_us(make_request, "OR"))
    assert result.lines[0].reason == "not_taxable"


def test_texas_taxes_80_percent_and_connecticut_1_percent(make_request: MakeRequest) -> None:
    engine = UsSalesTaxEngine(nexus=["TX", "CT"])
    tx = engine.calculate(_us(make_request, "TX")).lines[0]
    ct = engine.calculate(_us(make_request, "CT")).lines[0]
    assert (tx.taxable_amount, tx.tax_amount) == (8_000, 500)
    assert (ct.rate, ct.tax_amount) == (Decimal("0.01"), 100)


def test_unknown_taxability_needs_review_and_can_be_overridden(make_request: MakeRequest) -> None:
    review = UsSalesTaxEngine(nexus=["MN"]).calculate(_us(make_request, "MN"))
    assert review.needs_review and review.review_reasons == ("taxability_unknown: US-MN",)
    taxed = UsSalesTaxEngine(nexus=["MN"], taxability={"MN": True}).calculate(
        _us(make_request, "MN")
    )
    assert taxed.total_tax == 688  # 687.5 -> 688 half-up


def test_exemption_certificate_for_the_state(make_request: MakeRequest) -> None:
    cert = ExemptionCertificate(
        certificate_id="r-1", jurisdiction="US-NY", valid_from=date(2025, 1, 1)
    )
    result = UsSalesTaxEngine(nexus=["NY"]).calculate(
        _us(make_request, "NY", exemption_certificates=(cert,))
    )
    assert [(li.tax_amount, li.reason) for li in result.lines] == [(0, "exempt")]


def test_missing_or_unknown_states(make_request: MakeRequest) -> None:
    engine = UsSalesTaxEngine(nexus=["NY"])
    assert engine.calculate(_us(make_request, None)).review_reasons == (
        "customer_region_missing: US",
    )
    with pytest.raises(UnknownJurisdictionError):
        engine.calculate(_us(make_request, "ZZ"))
    with pytest.raises(UnknownJurisdictionError):
        UsSalesTaxEngine(nexus=["XX"])


def test_handles_only_us_customers(make_request: MakeRequest) -> None:
    assert UsSalesTaxEngine().handles(_us(make_request, "NY"))
    assert not UsSalesTaxEngine().handles(make_request(customer_country="CA"))


def test_louisiana_taxes_digital_products_from_2025_01_01(make_request: MakeRequest) -> None:
    # Act 10 (HB 8) of 2024: before, mixed rules (review); from 2025-01-01 taxable at 5 %.
    engine = UsSalesTaxEngine(nexus=["LA"])
    before = engine.calculate(_us(make_request, "LA", on=date(2024, 12, 31)))
    after = engine.calculate(_us(make_request, "LA", on=date(2025, 1, 1)))
    assert before.review_reasons == ("taxability_unknown: US-LA",)
    assert [(li.rate, li.tax_amount) for li in after.lines] == [(Decimal("0.05"), 500)]


def test_maryland_depends_on_the_buyers_use_so_it_goes_to_review(
    make_request: MakeRequest,
) -> None:
    # 6 % on digital products for personal use, 3 % on SaaS for enterprise use since
    # 2025-07-01 (Technical Bulletin 56): not a guess to make for the seller.
    result = UsSalesTaxEngine(nexus=["MD"]).calculate(_us(make_request, "MD", on=date(2025, 9, 1)))
    assert result.needs_review and result.review_reasons == ("taxability_unknown: US-MD",)


def test_dc_stays_at_6_percent_after_the_repealed_october_2025_rise(
    make_request: MakeRequest,
) -> None:
    result = UsSalesTaxEngine(nexus=["DC"]).calculate(_us(make_request, "DC", on=date(2025, 11, 1)))
    assert [(li.rate, li.tax_amount) for li in result.lines] == [(Decimal("0.06"), 600)]
