"""EU VAT engine: destination B2C, reverse charge, evidence, threshold, registration."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from lms_billing.domain.customers import TaxExempt
from lms_billing.domain.invoices import Invoice, InvoiceLine, TaxContext, add_line, compute_tax
from lms_billing.domain.tax import (
    ExemptionCertificate,
    LocationEvidence,
    SellerTaxProfile,
    TaxRegistration,
    TaxRequest,
)
from lms_billing.errors import (
    ConfigurationError,
    InvalidTaxIdError,
    ProviderUnavailableError,
    TaxRateUnavailableError,
)
from lms_billing.tax.eu_vat import EuVatEngine
from lms_billing.tax.vat_ids import EuVatId, VatIdCheck

FR_VAT = "FR40303265045"
AT_VAT = "ATU13585627"

MakeRequest = Callable[..., TaxRequest]


class FakeVies:
    def __init__(self, valid: bool = True, down: bool = False) -> None:
        self.valid, self.down = valid, down
        self.checked: list[str] = []

    def check(self, vat_id: EuVatId) -> VatIdCheck:
        self.checked.append(vat_id.compact)
        if self.down:
            raise ProviderUnavailableError("MS_UNAVAILABLE", provider="vies")
        return VatIdCheck(
            vat_id=vat_id.compact,
            valid=self.valid,
            checked_on=date(2025, 9, 1),
            request_identifier="WAPIAAAAZ8x1" if self.valid else None,
            requester="DE136695976",
        )


def test_handles_only_eu_customers(make_request: MakeRequest) -> None:
    engine = EuVatEngine()
    assert engine.handles(make_request(customer_country="FR"))
    assert not engine.handles(make_request(customer_country="GB"))


def test_b2c_is_taxed_at_the_destination_rate(make_request: MakeRequest) -> None:
    result = EuVatEngine().calculate(make_request(customer_country="FR", amounts=(10_000, 4_999)))
    assert not result.needs_review
    assert [(li.jurisdiction, li.rate, li.tax_amount) for li in result.lines] == [
        ("FR", Decimal("0.20"), 2_000),
        ("FR", Decimal("0.20"), 1_000),  # 999.8 -> 1000
    ]
    assert result.lines[0].reason == "standard_rated"
    assert result.notes == ()


def test_rate_change_applies_from_its_effective_date(make_request: MakeRequest) -> None:
    engine = EuVatEngine()
    before = engine.calculate(make_request(customer_country="EE", on=date(2025, 6, 30)))
    on_day = engine.calculate(make_request(customer_country="EE", on=date(2025, 7, 1)))
    assert (before.total_tax, on_day.total_tax) == (2_200, 2_400)


def test_b2b_in_another_member_state_is_reverse_charged(make_request: MakeRequest) -> None:
    vies = FakeVies()
    request = make_request(customer_country="FR", tax_ids=[("eu_vat", FR_VAT)], evidence=None)
    result = EuVatEngine(validator=vies).calculate(request)
    assert vies.checked == [FR_VAT]
    assert result.notes == ("Reverse charge",)
    # The VIES answer the reverse charge relies on travels with the result (audit evidence).
    (check,) = result.vat_id_checks
    assert (check.vat_id, check.valid, check.request_identifier) == (FR_VAT, True, "WAPIAAAAZ8x1")
    (line,) = result.lines
    assert line.reverse_charge and line.reason == "reverse_charge"
    assert (line.jurisdiction, line.tax_amount, line.taxable_amount) == ("FR", 0, 10_000)


def test_b2b_in_the_sellers_own_country_pays_local_vat(make_request: MakeRequest) -> None:
    request = make_request(
        customer_country="DE", tax_ids=[("eu_vat", "DE136695976")], registrations=()
    )
    result = EuVatEngine().calculate(request)
    assert result.total_tax == 1_900 and not result.lines[0].reverse_charge
    assert result.notes == ()


def test_customer_marked_reverse_without_vat_id_needs_review(make_request: MakeRequest) -> None:
    # This used to be reverse-charged. Art. 196 needs a buyer identified for VAT in another
    # member state, so a flag alone is no evidence: a person adds the VAT id or clears the flag.
    result = EuVatEngine().calculate(make_request(tax_exempt=TaxExempt.REVERSE))
    assert result.needs_review and result.lines == () and result.notes == ()
    assert result.review_reasons[0].startswith("reverse_charge_without_vat_id: FR")


def test_customer_marked_reverse_with_a_vat_id_is_reverse_charged(
    make_request: MakeRequest,
) -> None:
    request = make_request(tax_exempt=TaxExempt.REVERSE, tax_ids=[("eu_vat", FR_VAT)])
    result = EuVatEngine().calculate(request)
    assert result.lines[0].reverse_charge and result.notes == ("Reverse charge",)


def test_malformed_vat_ids_raise(make_request: MakeRequest) -> None:
    with pytest.raises(InvalidTaxIdError):
        EuVatEngine().calculate(make_request(tax_ids=[("eu_vat", "FR40303265046")]))


def test_vat_id_from_another_country_needs_review(make_request: MakeRequest) -> None:
    result = EuVatEngine().calculate(
        make_request(customer_country="FR", tax_ids=[("eu_vat", AT_VAT)])
    )
    assert result.needs_review and result.lines == ()
    assert result.review_reasons[0].startswith("vat_id_country_mismatch")


@pytest.mark.parametrize(
    ("vies", "reason"),
    [(FakeVies(valid=False), "vat_id_invalid"), (FakeVies(down=True), "vat_id_unverified")],
)
def test_vies_failures_need_review_not_a_guess(
    make_request: MakeRequest, vies: FakeVies, reason: str
) -> None:
    result = EuVatEngine(validator=vies).calculate(make_request(tax_ids=[("eu_vat", FR_VAT)]))
    assert result.needs_review and result.lines == ()
    assert result.review_reasons[0].startswith(reason)
    # A negative VIES answer is evidence too; an outage gives none.
    assert [c.valid for c in result.vat_id_checks] == ([] if vies.down else [False])


@pytest.mark.parametrize(
    ("evidence", "reason"),
    [
        (None, "location_evidence_missing"),
        (LocationEvidence(billing_country="FR"), "location_evidence_insufficient"),
        (LocationEvidence(billing_country="FR", ip_country="DE"), "location_evidence_conflict"),
        (
            LocationEvidence(billing_country="FR", ip_country="FR", card_country="BE"),
            "location_evidence_conflict",
        ),
        (LocationEvidence(billing_country="BE", card_country="BE"), "location_evidence_mismatch"),
    ],
)
def test_b2c_without_two_agreeing_pieces_of_evidence_needs_review(
    make_request: MakeRequest, evidence: LocationEvidence | None, reason: str
) -> None:
    result = EuVatEngine().calculate(make_request(customer_country="FR", evidence=evidence))
    assert result.needs_review and result.lines == ()
    assert result.review_reasons[0].startswith(reason)


def test_conflict_reasons_name_the_pieces(make_request: MakeRequest) -> None:
    evidence = LocationEvidence(billing_country="FR", ip_country="DE")
    result = EuVatEngine().calculate(make_request(evidence=evidence))
    assert result.review_reasons == (
        "location_evidence_conflict: billing_country=FR, ip_country=DE",
    )


def test_majority_evidence_can_be_allowed(make_request: MakeRequest) -> None:
    evidence = LocationEvidence(billing_country="FR", ip_country="FR", card_country="BE")
    result = EuVatEngine(allow_majority_evidence=True).calculate(make_request(evidence=evidence))
    assert not result.needs_review and result.total_tax == 2_000


def _threshold_seller(previous: int | None, current: int | None) -> SellerTaxProfile:
    return SellerTaxProfile(
        country="DE",
        vat_id="DE136695976",
        eu_home_country_threshold=True,
        eu_cross_border_sales_previous_year=previous,
        eu_cross_border_sales_current_year=current,
    )


def test_home_country_vat_under_the_eur_10000_threshold(make_request: MakeRequest) -> None:
    request = make_request(customer_country="FR", seller=_threshold_seller(500_000, 1_000_000))
    result = EuVatEngine().calculate(request)
    (line,) = result.lines
    assert (line.jurisdiction, line.rate, line.reason) == (
        "DE",
        Decimal("0.19"),
        "home_country_threshold",
    )


def test_home_country_vat_needs_location_evidence_and_a_home_vat_id(
    make_request: MakeRequest,
) -> None:
    # Under the threshold the rate is the seller's, but the seller still has to show the
    # buyer is a consumer in another member state, and be registered at home.
    seller = _threshold_seller(500_000, 1_000_000)
    no_evidence = EuVatEngine().calculate(
        make_request(customer_country="FR", seller=seller, evidence=None)
    )
    assert no_evidence.needs_review
    assert no_evidence.review_reasons == ("location_evidence_missing",)
    unregistered = seller.model_copy(update={"vat_id": None})
    result = EuVatEngine().calculate(make_request(customer_country="FR", seller=unregistered))
    assert result.needs_review
    assert result.review_reasons[0].startswith("seller_not_registered: DE (home-country VAT")


@pytest.mark.parametrize(("previous", "current"), [(1_000_001, 0), (0, 1_000_001), (None, 0)])
def test_destination_vat_once_the_threshold_is_crossed_or_unknown(
    make_request: MakeRequest, previous: int | None, current: int | None
) -> None:
    seller = _threshold_seller(previous, current)
    seller = seller.model_copy(update={"registrations": (TaxRegistration(jurisdiction="EU"),)})
    result = EuVatEngine().calculate(make_request(customer_country="FR", seller=seller))
    assert result.lines[0].jurisdiction == "FR" and result.lines[0].reason == "standard_rated"


def test_unregistered_eu_seller_with_no_sales_figures_needs_review(
    make_request: MakeRequest,
) -> None:
    # No OSS, no FR registration and no cross-border figures: neither home-country VAT nor
    # destination VAT can be charged correctly, and zero would be wrong either way.
    result = EuVatEngine().calculate(make_request(customer_country="FR", registrations=()))
    assert result.needs_review and result.lines == ()
    (reason,) = result.review_reasons
    assert reason.startswith("seller_not_registered: FR (no OSS or FR VAT registration")


def test_an_oss_registration_counts_only_from_its_first_day(make_request: MakeRequest) -> None:
    seller = SellerTaxProfile(
        country="DE",
        vat_id="DE136695976",
        registrations=(TaxRegistration(jurisdiction="EU", valid_from=date(2026, 4, 1)),),
    )
    before = EuVatEngine().calculate(make_request(seller=seller, on=date(2026, 3, 31)))
    assert before.needs_review and before.lines == ()
    assert before.review_reasons[0].startswith("seller_not_registered: FR")
    after = EuVatEngine().calculate(make_request(seller=seller, on=date(2026, 4, 1)))
    assert not after.needs_review
    assert [(line.jurisdiction, line.rate) for line in after.lines] == [("FR", Decimal("0.2"))]


def test_unregistered_eu_seller_under_the_threshold_charges_home_vat_by_default(
    make_request: MakeRequest,
) -> None:
    # Art. 59c: home-country VAT is the default under EUR 10,000, no option to elect.
    seller = SellerTaxProfile(
        country="DE",
        vat_id="DE136695976",
        eu_cross_border_sales_previous_year=400_000,
        eu_cross_border_sales_current_year=200_000,
    )
    result = EuVatEngine().calculate(make_request(customer_country="FR", seller=seller))
    assert [(li.jurisdiction, li.rate, li.tax_amount, li.reason) for li in result.lines] == [
        ("DE", Decimal("0.19"), 1_900, "home_country_threshold")
    ]


def test_unregistered_eu_seller_over_the_threshold_needs_review(
    make_request: MakeRequest,
) -> None:
    seller = SellerTaxProfile(
        country="DE",
        vat_id="DE136695976",
        eu_cross_border_sales_previous_year=400_000,
        eu_cross_border_sales_current_year=1_000_001,
    )
    result = EuVatEngine().calculate(make_request(customer_country="FR", seller=seller))
    assert result.needs_review and result.lines == ()
    assert result.review_reasons[0].startswith("registration_threshold_exceeded: EU")


def test_seller_that_opted_for_destination_vat_needs_a_registration(
    make_request: MakeRequest,
) -> None:
    seller = _threshold_seller(100, 100).model_copy(update={"eu_home_country_threshold": False})
    result = EuVatEngine().calculate(make_request(customer_country="FR", seller=seller))
    assert result.needs_review
    assert result.review_reasons[0].startswith("seller_not_registered: FR (the seller opted")
    registered = seller.model_copy(update={"registrations": (TaxRegistration(jurisdiction="EU"),)})
    taxed = EuVatEngine().calculate(make_request(customer_country="FR", seller=registered))
    assert [(li.jurisdiction, li.tax_amount) for li in taxed.lines] == [("FR", 2_000)]


def test_non_eu_seller_without_oss_needs_review_from_the_first_sale(
    make_request: MakeRequest,
) -> None:
    result = EuVatEngine().calculate(make_request(seller=SellerTaxProfile(country="US")))
    assert result.needs_review and result.lines == ()
    assert result.review_reasons[0].startswith("seller_not_registered: FR (a seller established")
    assert "non-Union OSS" in result.review_reasons[0]


def test_sales_in_the_sellers_own_country_need_its_vat_registration(
    make_request: MakeRequest,
) -> None:
    b2c = make_request(customer_country="DE", seller_vat_id=None, registrations=())
    b2b = make_request(
        customer_country="DE",
        seller_vat_id=None,
        registrations=(),
        tax_ids=[("eu_vat", "DE136695976")],
    )
    for request in (b2c, b2b):
        result = EuVatEngine().calculate(request)
        assert result.needs_review and result.lines == ()
        assert result.review_reasons[0].startswith("seller_not_registered: DE")


def test_unregistered_seller_over_the_threshold_needs_review(make_request: MakeRequest) -> None:
    seller = SellerTaxProfile(
        country="US",
        registrations=(
            TaxRegistration(jurisdiction="EU", registered=False, threshold=0, sales_to_date=1),
        ),
    )
    result = EuVatEngine().calculate(make_request(seller=seller))
    assert result.needs_review
    assert result.review_reasons == ("registration_threshold_exceeded: EU",)


def test_non_eu_seller_registered_for_oss_charges_destination_vat(
    make_request: MakeRequest,
) -> None:
    seller = SellerTaxProfile(country="US", registrations=(TaxRegistration(jurisdiction="EU"),))
    result = EuVatEngine().calculate(make_request(customer_country="IT", seller=seller))
    assert result.total_tax == 2_200


def test_exempt_customers_get_zero_lines_with_reason(make_request: MakeRequest) -> None:
    cert = ExemptionCertificate(certificate_id="c1", jurisdiction="FR", valid_from=date(2025, 1, 1))
    result = EuVatEngine().calculate(make_request(exemption_certificates=(cert,)))
    assert [(li.tax_amount, li.reason) for li in result.lines] == [(0, "exempt")]


def test_reduced_rates_by_tax_code(make_request: MakeRequest) -> None:
    engine = EuVatEngine(reduced_rates={"ebook": {"DE": Decimal("0.07")}})
    ebook = engine.calculate(make_request(customer_country="DE", tax_code="ebook"))
    course = engine.calculate(make_request(customer_country="DE", tax_code="course"))
    fr_ebook = engine.calculate(make_request(customer_country="FR", tax_code="ebook"))
    assert (ebook.lines[0].rate, ebook.lines[0].reason) == (Decimal("0.07"), "reduced_rated")
    assert course.lines[0].rate == Decimal("0.19")
    assert fr_ebook.lines[0].rate == Decimal("0.20")  # no reduced rate configured for FR


def test_a_configured_reduced_rate_must_exist_on_that_date(make_request: MakeRequest) -> None:
    engine = EuVatEngine(reduced_rates={"ebook": {"SK": Decimal("0.10")}})
    assert engine.calculate(
        make_request(customer_country="SK", tax_code="ebook", on=date(2024, 12, 31))
    ).lines[0].rate == Decimal("0.10")
    with pytest.raises(ConfigurationError):
        engine.calculate(make_request(customer_country="SK", tax_code="ebook", on=date(2025, 1, 1)))


def test_dates_before_coverage_raise(make_request: MakeRequest) -> None:
    with pytest.raises(TaxRateUnavailableError):
        EuVatEngine().calculate(make_request(on=date(2021, 6, 30)))


def test_inclusive_prices_and_per_invoice_rounding(make_request: MakeRequest) -> None:
    seller = SellerTaxProfile(
        country="DE",
        vat_id="DE136695976",
        registrations=(TaxRegistration(jurisdiction="EU"),),
        tax_rounding="per_invoice",
    )
    request = make_request(
        customer_country="FI", seller=seller, amounts=(1_000, 1_000, 1_000), behavior="inclusive"
    )
    result = EuVatEngine().calculate(request)
    # 3000 * 0.255 / 1.255 = 609.56 -> 610 for the group, allocated 204 + 203 + 203.
    assert [li.tax_amount for li in result.lines] == [204, 203, 203]
    assert all(li.taxable_amount + li.tax_amount == 1_000 for li in result.lines)


def test_finnish_ebooks_at_the_reduced_rate_follow_the_2026_cut(make_request: MakeRequest) -> None:
    # A product configured at 13.5 % is accepted from 2026-01-01; 14 % is no longer a rate.
    new = EuVatEngine(reduced_rates={"ebook": {"FI": Decimal("0.135")}})
    old = EuVatEngine(reduced_rates={"ebook": {"FI": Decimal("0.14")}})
    on = date(2026, 1, 1)
    line = new.calculate(make_request(customer_country="FI", tax_code="ebook", on=on)).lines[0]
    assert (line.rate, line.tax_amount, line.reason) == (Decimal("0.135"), 1_350, "reduced_rated")
    with pytest.raises(ConfigurationError):
        old.calculate(make_request(customer_country="FI", tax_code="ebook", on=on))


def test_the_vies_answer_is_kept_on_the_invoice(make_request: MakeRequest) -> None:
    # The proof of the buyer's VAT id check (VIES consultation number) reaches the invoice,
    # so it is stored with it and survives for an audit.
    invoice = add_line(
        Invoice(
            id="in_1",
            customer_id="cus_1",
            currency="EUR",
            created_at=datetime(2025, 9, 1, tzinfo=UTC),
        ),
        InvoiceLine(id="l1", description="Course", amount=10_000),
    )
    request = make_request(customer_country="FR", tax_ids=[("eu_vat", FR_VAT)], evidence=None)
    context = TaxContext(
        seller=request.seller, customer=request.customer, transaction_date=date(2025, 9, 1)
    )
    taxed = compute_tax(invoice, EuVatEngine(validator=FakeVies()), context)
    (check,) = taxed.tax_vat_id_checks
    assert (check.vat_id, check.request_identifier) == (FR_VAT, "WAPIAAAAZ8x1")
    stored = Invoice.model_validate_json(taxed.model_dump_json())
    assert stored.tax_vat_id_checks == taxed.tax_vat_id_checks
