"""UK, Norway, Switzerland, Australia, Japan and Canada engines."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest
from stdnum.gb import vat as gb_vat

from lms_billing.domain.tax import SellerTaxProfile, TaxRegistration, TaxRequest, TaxResult
from lms_billing.errors import InvalidTaxIdError, UnknownJurisdictionError
from lms_billing.tax.canada import CanadaTaxEngine
from lms_billing.tax.national import (
    AU_GST,
    CH_VAT,
    JP_CT,
    NO_VAT,
    UK_VAT,
    NationalSpec,
    NationalTaxEngine,
)

MakeRequest = Callable[..., TaxRequest]
GB_VAT_ID = "GB980780684"
assert gb_vat.is_valid(GB_VAT_ID)


def _seller(country: str, *registrations: TaxRegistration | str) -> SellerTaxProfile:
    regs = tuple(r if isinstance(r, TaxRegistration) else TaxRegistration(jurisdiction=r)
                 for r in registrations)  # fmt: skip
    return SellerTaxProfile(country=country, registrations=regs)


@pytest.mark.parametrize(
    ("spec", "currency", "amount", "tax_type", "expected"),
    [
        (UK_VAT, "GBP", 10_000, "vat", 2_000),
        (NO_VAT, "NOK", 10_000, "vat", 2_500),
        (CH_VAT, "CHF", 10_000, "vat", 810),
        (AU_GST, "AUD", 10_000, "gst", 1_000),
        (JP_CT, "JPY", 10_000, "jct", 1_000),
    ],
)
def test_registered_foreign_seller_charges_the_standard_rate(
    make_request: MakeRequest,
    spec: NationalSpec,
    currency: str,
    amount: int,
    tax_type: str,
    expected: int,
) -> None:
    request = make_request(
        customer_country=spec.country,
        seller=_seller("DE", spec.country),
        currency=currency,
        amounts=(amount,),
    )
    engine = NationalTaxEngine(spec)
    assert engine.handles(request)
    result = engine.calculate(request)
    (line,) = result.lines
    assert (line.jurisdiction, line.tax_type, line.tax_amount) == (spec.country, tax_type, expected)
    assert line.reason == "standard_rated" and not result.needs_review


def test_swiss_rate_changes_on_2024_01_01(make_request: MakeRequest) -> None:
    engine = NationalTaxEngine(CH_VAT)
    seller = _seller("DE", "CH")
    before = engine.calculate(
        make_request(customer_country="CH", seller=seller, on=date(2023, 12, 31))
    )
    after = engine.calculate(
        make_request(customer_country="CH", seller=seller, on=date(2024, 1, 1))
    )
    assert (before.lines[0].rate, before.total_tax) == (Decimal("0.077"), 770)
    assert (after.lines[0].rate, after.total_tax) == (Decimal("0.081"), 810)


def test_unregistered_seller_under_the_threshold_charges_nothing_with_reason(
    make_request: MakeRequest,
) -> None:
    reg = TaxRegistration(jurisdiction="NO", registered=False, sales_to_date=1_000_000)
    result = NationalTaxEngine(NO_VAT).calculate(
        make_request(customer_country="NO", seller=_seller("DE", reg), currency="NOK")
    )
    assert [(li.tax_amount, li.reason) for li in result.lines] == [(0, "not_registered")]


def test_unregistered_seller_without_recorded_sales_needs_review(
    make_request: MakeRequest,
) -> None:
    # This used to give a silent not_registered zero: with no sales figure nobody knows
    # whether the NOK 50,000 threshold was crossed.
    result = NationalTaxEngine(NO_VAT).calculate(
        make_request(customer_country="NO", seller=_seller("DE"), currency="NOK")
    )
    assert result.needs_review and result.lines == ()
    assert result.review_reasons == (
        "registration_status_unknown: NO (not registered, and no sales_to_date recorded "
        "against the NOK 50,000.00 threshold)",
    )


def test_uk_has_no_threshold_for_sellers_established_abroad(make_request: MakeRequest) -> None:
    # GBP 1,000 of UK sales by a US seller: a non-established taxable person registers from
    # the first supply, so this is never zero.
    reg = TaxRegistration(jurisdiction="GB", registered=False, sales_to_date=100_000)
    result = NationalTaxEngine(UK_VAT).calculate(
        make_request(customer_country="GB", seller=_seller("US", reg), currency="GBP")
    )
    assert result.needs_review and result.lines == ()
    assert result.review_reasons == ("registration_threshold_exceeded: GB",)
    first_sale = NationalTaxEngine(UK_VAT).calculate(
        make_request(customer_country="GB", seller=_seller("US"), currency="GBP")
    )
    assert first_sale.needs_review
    assert first_sale.review_reasons[0].startswith("seller_not_registered: GB")


def test_a_registration_that_ended_no_longer_charges(make_request: MakeRequest) -> None:
    ended = TaxRegistration(jurisdiction="GB", valid_until=date(2026, 6, 30))
    seller = _seller("US", ended)

    def on(day: date) -> TaxResult:
        request = make_request(customer_country="GB", seller=seller, currency="GBP", on=day)
        return NationalTaxEngine(UK_VAT).calculate(request)

    assert on(date(2026, 6, 30)).lines[0].tax_amount == 2_000
    after = on(date(2026, 7, 1))  # a foreign seller owes UK VAT from the first sale
    assert after.needs_review and after.review_reasons[0].startswith("seller_not_registered: GB")


def test_uk_threshold_for_uk_sellers_rose_to_90000_on_2024_04_01(
    make_request: MakeRequest,
) -> None:
    reg = TaxRegistration(jurisdiction="GB", registered=False, sales_to_date=8_600_000)
    seller = _seller("GB", reg)
    engine = NationalTaxEngine(UK_VAT)
    before = engine.calculate(
        make_request(customer_country="GB", seller=seller, currency="GBP", on=date(2024, 3, 31))
    )
    after = engine.calculate(
        make_request(customer_country="GB", seller=seller, currency="GBP", on=date(2024, 4, 1))
    )
    assert before.review_reasons == ("registration_threshold_exceeded: GB",)  # over GBP 85,000
    assert [(li.tax_amount, li.reason) for li in after.lines] == [(0, "not_registered")]
    assert UK_VAT.threshold(established=True, on=date(2024, 3, 31)) == 8_500_000
    assert UK_VAT.threshold(established=True, on=date(2024, 4, 1)) == 9_000_000
    assert UK_VAT.threshold(established=False, on=date(2024, 4, 1)) == 0


def test_unregistered_seller_past_the_default_threshold_needs_review(
    make_request: MakeRequest,
) -> None:
    # VOEC: NOK 50,000 = 5,000,000 minor units.
    below = TaxRegistration(jurisdiction="NO", registered=False, sales_to_date=5_000_000)
    above = below.model_copy(update={"sales_to_date": 5_000_001})
    engine = NationalTaxEngine(NO_VAT)
    ok = engine.calculate(make_request(customer_country="NO", seller=_seller("DE", below)))
    review = engine.calculate(make_request(customer_country="NO", seller=_seller("DE", above)))
    assert not ok.needs_review and ok.lines[0].reason == "not_registered"
    assert review.needs_review and review.review_reasons == ("registration_threshold_exceeded: NO",)


def test_the_threshold_is_configurable_per_seller(make_request: MakeRequest) -> None:
    reg = TaxRegistration(jurisdiction="AU", registered=False, threshold=100, sales_to_date=101)
    result = NationalTaxEngine(AU_GST).calculate(
        make_request(customer_country="AU", seller=_seller("US", reg))
    )
    assert result.needs_review


def test_uk_business_buyer_of_a_foreign_seller_is_reverse_charged(
    make_request: MakeRequest,
) -> None:
    result = NationalTaxEngine(UK_VAT).calculate(
        make_request(
            customer_country="GB", seller=_seller("DE", "GB"), tax_ids=[("gb_vat", GB_VAT_ID)]
        )
    )
    assert result.notes == ("Reverse charge",)
    assert result.lines[0].reverse_charge and result.total_tax == 0


def test_reverse_flag_without_a_tax_id_needs_review(make_request: MakeRequest) -> None:
    # Used to be reverse-charged on the flag alone; a business buyer is shown by its tax id.
    result = NationalTaxEngine(UK_VAT).calculate(
        make_request(customer_country="GB", seller=_seller("DE", "GB"), tax_exempt="reverse")
    )
    assert result.needs_review and result.lines == ()
    assert result.review_reasons[0].startswith("reverse_charge_without_vat_id: GB")


CH_VAT_ID = "CHE-116.281.710 MWST"


def test_swiss_business_buyer_pays_vat_to_a_foreign_seller_registered_in_switzerland(
    make_request: MakeRequest,
) -> None:
    # Acquisition tax (reverse charge) only applies when the foreign supplier is not
    # registered for Swiss VAT; a registered one charges 8.1 %.
    engine = NationalTaxEngine(CH_VAT)
    registered = engine.calculate(
        make_request(
            customer_country="CH",
            seller=_seller("US", "CH"),
            currency="CHF",
            tax_ids=[("ch_vat", CH_VAT_ID)],
        )
    )
    assert [(li.rate, li.tax_amount, li.reverse_charge) for li in registered.lines] == [
        (Decimal("0.081"), 810, False)
    ]
    assert registered.notes == ()
    unregistered = engine.calculate(
        make_request(
            customer_country="CH",
            seller=_seller("US"),
            currency="CHF",
            tax_ids=[("ch_vat", CH_VAT_ID)],
        )
    )
    assert unregistered.lines[0].reverse_charge and unregistered.notes == ("Reverse charge",)


def test_uk_business_buyer_of_a_uk_seller_pays_vat(make_request: MakeRequest) -> None:
    result = NationalTaxEngine(UK_VAT).calculate(
        make_request(
            customer_country="GB", seller=_seller("GB", "GB"), tax_ids=[("gb_vat", GB_VAT_ID)]
        )
    )
    assert result.total_tax == 2_000 and result.notes == ()


def test_malformed_national_tax_ids_raise(make_request: MakeRequest) -> None:
    with pytest.raises(InvalidTaxIdError):
        NationalTaxEngine(UK_VAT).calculate(
            make_request(
                customer_country="GB", seller=_seller("DE", "GB"), tax_ids=[("gb_vat", "GB123")]
            )
        )


def test_exempt_customers(make_request: MakeRequest) -> None:
    result = NationalTaxEngine(JP_CT).calculate(
        make_request(customer_country="JP", seller=_seller("US", "JP"), tax_exempt="exempt")
    )
    assert [(li.tax_amount, li.reason) for li in result.lines] == [(0, "exempt")]


# --- Canada --------------------------------------------------------------------------------

CA_ALL = ("CA", "CA-QC", "CA-BC", "CA-SK", "CA-MB")


def _ca(make_request: MakeRequest, province: str | None, *regs: str, **kw: object) -> TaxRequest:
    return make_request(
        customer_country="CA", region=province, seller=_seller("US", *regs), currency="CAD", **kw
    )


@pytest.mark.parametrize(
    ("province", "expected"),
    [
        ("ON", [("CA-ON", "hst", 1_300)]),
        ("NB", [("CA-NB", "hst", 1_500)]),
        ("AB", [("CA", "gst", 500)]),
        ("QC", [("CA", "gst", 500), ("CA-QC", "qst", 998)]),
        ("BC", [("CA", "gst", 500), ("CA-BC", "pst", 700)]),
        ("SK", [("CA", "gst", 500), ("CA-SK", "pst", 600)]),
        ("MB", [("CA", "gst", 500), ("CA-MB", "rst", 700)]),
    ],
)
def test_canada_taxes_by_province(
    make_request: MakeRequest, province: str, expected: list[tuple[str, str, int]]
) -> None:
    result = CanadaTaxEngine().calculate(_ca(make_request, province, *CA_ALL))
    assert [(li.jurisdiction, li.tax_type, li.tax_amount) for li in result.lines] == expected


def test_nova_scotia_hst_drops_to_14_percent_on_2025_04_01(make_request: MakeRequest) -> None:
    engine = CanadaTaxEngine()
    before = engine.calculate(_ca(make_request, "NS", "CA", on=date(2025, 3, 31)))
    after = engine.calculate(_ca(make_request, "NS", "CA", on=date(2025, 4, 1)))
    assert (before.total_tax, after.total_tax) == (1_500, 1_400)


def test_canada_registrations_are_per_tax(make_request: MakeRequest) -> None:
    qst = TaxRegistration(jurisdiction="CA-QC", registered=False, sales_to_date=2_000_000)
    result = CanadaTaxEngine().calculate(_ca(make_request, "QC", "CA", qst))
    assert [(li.tax_type, li.tax_amount, li.reason) for li in result.lines] == [
        ("gst", 500, "standard_rated"),
        ("qst", 0, "not_registered"),  # CAD 20,000 of sales: under the CAD 30,000 threshold
    ]
    unknown = CanadaTaxEngine().calculate(_ca(make_request, "QC", "CA"))
    assert unknown.needs_review
    assert unknown.review_reasons[0].startswith("registration_status_unknown: CA-QC")


@pytest.mark.parametrize(
    ("province", "sales", "outcome"),
    [
        ("BC", 1_000_000, "not_registered"),  # CAD 10,000: at the threshold
        ("BC", 1_000_001, "registration_threshold_exceeded: CA-BC"),
        ("MB", 1_000_001, "registration_threshold_exceeded: CA-MB"),
        ("SK", 1, "registration_threshold_exceeded: CA-SK"),  # no small-seller threshold
    ],
)
def test_provincial_sales_tax_thresholds(
    make_request: MakeRequest, province: str, sales: int, outcome: str
) -> None:
    pst = TaxRegistration(jurisdiction=f"CA-{province}", registered=False, sales_to_date=sales)
    result = CanadaTaxEngine().calculate(_ca(make_request, province, "CA", pst))
    if outcome == "not_registered":
        assert not result.needs_review
        assert [li.reason for li in result.lines] == ["standard_rated", "not_registered"]
    else:
        assert result.needs_review and result.review_reasons == (outcome,)


def test_canadian_reverse_flag_without_a_number_needs_review(make_request: MakeRequest) -> None:
    result = CanadaTaxEngine().calculate(_ca(make_request, "ON", *CA_ALL, tax_exempt="reverse"))
    assert result.needs_review and result.lines == ()
    assert result.review_reasons[0].startswith("reverse_charge_without_vat_id: CA")


def test_pst_on_digital_services_can_be_turned_off(make_request: MakeRequest) -> None:
    result = CanadaTaxEngine(pst_on_digital=False).calculate(_ca(make_request, "BC", *CA_ALL))
    assert [li.tax_type for li in result.lines] == ["gst"]


def test_canadian_business_buyer_self_assesses(make_request: MakeRequest) -> None:
    result = CanadaTaxEngine().calculate(
        _ca(make_request, "ON", *CA_ALL, tax_ids=[("ca_gst_hst", "123456782RT0001")])
    )
    assert result.lines[0].reverse_charge and result.notes == ("Reverse charge",)


def test_canada_needs_a_province(make_request: MakeRequest) -> None:
    result = CanadaTaxEngine().calculate(_ca(make_request, None, *CA_ALL))
    assert result.needs_review and result.review_reasons == ("customer_region_missing: CA",)
    with pytest.raises(UnknownJurisdictionError):
        CanadaTaxEngine().calculate(_ca(make_request, "XX", *CA_ALL))
