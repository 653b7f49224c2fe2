"""Stripe Tax adapter against a mocked ``POST /v1/tax/calculations`` (Stripe's response shape)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import pytest
import responses
import stripe

from lms_billing.domain.tax import (
    ExemptionCertificate,
    LocationEvidence,
    SellerTaxProfile,
    TaxLineItem,
    TaxRequest,
    TaxResult,
)
from lms_billing.errors import ProviderInvalidRequestError, ProviderUnavailableError
from lms_billing.tax.stripe_tax import StripeTaxEngine

MakeRequest = Callable[..., TaxRequest]
URL = "https://api.stripe.com/v1/tax/calculations"


def _sent() -> dict[str, list[str]]:
    """The form-encoded parameters of the first request, as Stripe receives them."""
    body = responses.calls[0].request.body
    assert isinstance(body, str | bytes)
    return parse_qs(body.decode() if isinstance(body, bytes) else body)


def _client() -> stripe.StripeClient:
    return stripe.StripeClient(
        "sk_test_123", http_client=stripe.RequestsClient(), max_network_retries=0
    )


def _breakdown(
    amount: int, taxable: int, level: str, name: str, pct: str | None, reason: str, **where: Any
) -> dict[str, Any]:
    return {
        "amount": amount,
        "jurisdiction": {
            "country": "US",
            "display_name": name,
            "level": level,
            "state": "WA",
            **where,
        },
        "sourcing": "destination",
        "tax_rate_details": None
        if pct is None
        else {
            "display_name": "Retail Sales and Use Tax",
            "percentage_decimal": pct,
            "tax_type": "sales_tax",
        },
        "taxability_reason": reason,
        "taxable_amount": taxable,
    }


def _calculation(line_items: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    tax = sum(item["amount_tax"] for item in line_items)
    body: dict[str, Any] = {
        "id": "taxcalc_1PZv0a2eZvKYlo2C8yXh3dyQ",
        "object": "tax.calculation",
        "amount_total": sum(item["amount"] for item in line_items) + tax,
        "currency": "usd",
        "customer": None,
        "customer_details": {
            "address": {"city": None, "country": "US", "line1": None, "line2": None,
                        "postal_code": "98101", "state": "WA"},
            "address_source": "billing",
            "ip_address": None,
            "tax_ids": [],
            "taxability_override": "none",
        },
        "expires_at": 1756800000,
        "line_items": {
            "object": "list",
            "data": line_items,
            "has_more": False,
            "url": "/v1/tax/calculations/taxcalc_1PZv0a2eZvKYlo2C8yXh3dyQ/line_items",
        },
        "livemode": False,
        "ship_from_details": None,
        "shipping_cost": None,
        "tax_amount_exclusive": tax,
        "tax_amount_inclusive": 0,
        "tax_breakdown": [],
        "tax_date": 1756684800,
    }  # fmt: skip
    body.update(overrides)
    return body


def _line_item(reference: str, amount: int, breakdown: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": f"tax_li_{reference}",
        "object": "tax.calculation_line_item",
        "amount": amount,
        "amount_tax": sum(b["amount"] for b in breakdown),
        "livemode": False,
        "metadata": {},
        "product": None,
        "quantity": 1,
        "reference": reference,
        "tax_behavior": "exclusive",
        "tax_breakdown": breakdown,
        "tax_code": "txcd_10000000",
    }


def _wa_request(make_request: MakeRequest, **kw: Any) -> TaxRequest:
    return make_request(
        customer_country="US",
        region="WA",
        postal_code="98101",
        currency="USD",
        seller=SellerTaxProfile(country="US"),
        amounts=(10_000,),
        tax_code="txcd_10103001",
        **kw,
    )


@responses.activate
def test_us_calculation_maps_every_jurisdiction(make_request: MakeRequest) -> None:
    responses.post(
        URL,
        json=_calculation(
            [
                _line_item(
                    "li_1",
                    10_000,
                    [
                        _breakdown(650, 10_000, "state", "Washington", "6.5", "standard_rated"),
                        _breakdown(385, 10_000, "city", "Seattle", "3.85", "standard_rated"),
                    ],
                )
            ]
        ),
    )
    result = StripeTaxEngine(_client()).calculate(_wa_request(make_request))

    sent = _sent()
    assert sent["currency"] == ["usd"]
    assert sent["line_items[0][amount]"] == ["10000"]
    assert sent["line_items[0][reference]"] == ["li_1"]
    assert sent["line_items[0][tax_behavior]"] == ["exclusive"]
    assert sent["line_items[0][tax_code]"] == ["txcd_10103001"]
    assert sent["customer_details[address][country]"] == ["US"]
    assert sent["customer_details[address][state]"] == ["WA"]
    assert sent["customer_details[address][postal_code]"] == ["98101"]
    assert sent["expand[0]"] == ["line_items"]
    assert sent["tax_date"] == ["1756684800"]  # 2025-09-01T00:00:00Z

    assert result.engine == "stripe_tax" and result.total_tax == 1_035
    assert [(li.jurisdiction, li.rate, li.tax_amount) for li in result.lines] == [
        ("US-WA", Decimal("0.065"), 650),
        ("US-WA:city:Seattle", Decimal("0.0385"), 385),
    ]


@responses.activate
def test_reverse_charge_and_not_collecting_map_to_our_reasons(make_request: MakeRequest) -> None:
    eu = {"country": "FR", "display_name": "France", "level": "country", "state": None}
    parts = [
        {**_breakdown(0, 10_000, "country", "France", None, "reverse_charge"), "jurisdiction": eu},
        {**_breakdown(0, 10_000, "country", "France", None, "not_collecting"), "jurisdiction": eu},
    ]
    responses.post(URL, json=_calculation([_line_item("li_1", 10_000, parts)], currency="eur"))
    request = make_request(customer_country="FR", tax_ids=[("eu_vat", "FR40303265045")])
    result = StripeTaxEngine(_client()).calculate(request)
    sent = _sent()
    assert sent["customer_details[tax_ids][0][type]"] == ["eu_vat"]
    assert [(li.jurisdiction, li.reason, li.reverse_charge) for li in result.lines] == [
        ("FR", "reverse_charge", True),
        ("FR", "not_registered", False),
    ]
    assert result.notes == ("Reverse charge",)


@responses.activate
def test_exempt_customers_are_sent_as_taxability_override(make_request: MakeRequest) -> None:
    responses.post(
        URL,
        json=_calculation(
            [
                _line_item(
                    "li_1",
                    10_000,
                    [_breakdown(0, 0, "state", "Washington", None, "customer_exempt")],
                )
            ]
        ),
    )
    cert = ExemptionCertificate(
        certificate_id="c", jurisdiction="US-WA", valid_from=date(2025, 1, 1)
    )
    result = StripeTaxEngine(_client()).calculate(
        _wa_request(make_request, exemption_certificates=(cert,))
    )
    sent = _sent()
    assert sent["customer_details[taxability_override]"] == ["customer_exempt"]
    assert result.lines[0].reason == "exempt" and result.lines[0].tax_type == "none"


@responses.activate
def test_stripe_invalid_request_is_translated(make_request: MakeRequest) -> None:
    responses.post(
        URL,
        status=400,
        json={
            "error": {
                "code": "customer_tax_location_invalid",
                "doc_url": "https://stripe.com/docs/error-codes/customer-tax-location-invalid",
                "message": "We could not determine the customer's tax location.",
                "param": "customer_details[address]",
                "request_log_url": "https://dashboard.stripe.com/test/logs/req_123",
                "type": "invalid_request_error",
            }
        },
        headers={"Request-Id": "req_123"},
    )
    with pytest.raises(ProviderInvalidRequestError) as info:
        StripeTaxEngine(_client()).calculate(_wa_request(make_request))
    assert info.value.provider_code == "customer_tax_location_invalid"
    assert (info.value.request_id, info.value.http_status) == ("req_123", 400)


@responses.activate
def test_stripe_outage_is_retryable(make_request: MakeRequest) -> None:
    responses.post(
        URL,
        status=500,
        json={"error": {"message": "An unknown error occurred", "type": "api_error"}},
    )
    with pytest.raises(ProviderUnavailableError) as info:
        StripeTaxEngine(_client()).calculate(_wa_request(make_request))
    assert info.value.retryable


def test_handles_only_configured_countries(make_request: MakeRequest) -> None:
    engine = StripeTaxEngine(_client(), countries=["us"])
    assert engine.handles(_wa_request(make_request))
    assert not engine.handles(make_request(customer_country="FR"))
    assert StripeTaxEngine(_client()).handles(make_request(customer_country="FR"))


def _wa(amount: int, tax: int = 650) -> dict[str, Any]:
    return _breakdown(tax, amount, "state", "Washington", "6.5", "standard_rated")


@responses.activate
def test_not_supported_jurisdictions_need_review_not_a_zero(make_request: MakeRequest) -> None:
    # Stripe answers not_supported (amount 0, no rate) where it cannot compute tax.
    part = _breakdown(0, 0, "state", "Washington", None, "not_supported")
    responses.post(URL, json=_calculation([_line_item("li_1", 10_000, [part])]))
    result = StripeTaxEngine(_client()).calculate(_wa_request(make_request))
    assert result.needs_review and result.lines == ()
    assert result.review_reasons == ("stripe_tax_not_supported: li_1 (US-WA)",)


@responses.activate
def test_a_line_with_an_empty_breakdown_needs_review(make_request: MakeRequest) -> None:
    responses.post(URL, json=_calculation([_line_item("li_1", 10_000, [])]))
    result = StripeTaxEngine(_client()).calculate(_wa_request(make_request))
    assert result.needs_review and result.review_reasons == ("stripe_tax_no_breakdown: li_1",)


@responses.activate
def test_a_line_missing_from_stripes_answer_needs_review(make_request: MakeRequest) -> None:
    responses.post(URL, json=_calculation([_line_item("li_1", 10_000, [_wa(10_000)])]))
    request = _wa_request(make_request).model_copy(
        update={
            "items": (
                *_wa_request(make_request).items,
                TaxLineItem(line_id="li_2", amount=5_000, tax_code="txcd_10103001"),
            )
        }
    )
    result = StripeTaxEngine(_client()).calculate(request)
    assert _sent()["line_items[1][reference]"] == ["li_2"]
    assert result.needs_review and result.lines == ()
    assert result.review_reasons == ("stripe_tax_line_missing: li_2",)


@responses.activate
def test_an_unknown_taxability_reason_needs_review(make_request: MakeRequest) -> None:
    part = _breakdown(0, 10_000, "state", "Washington", None, "brand_new_reason")
    responses.post(URL, json=_calculation([_line_item("li_1", 10_000, [part])]))
    result = StripeTaxEngine(_client()).calculate(_wa_request(make_request))
    assert result.review_reasons == ("stripe_tax_unknown_reason: li_1 (US-WA: brand_new_reason)",)


@responses.activate
def test_zero_amount_lines_are_not_sent(make_request: MakeRequest) -> None:
    responses.post(URL, json=_calculation([_line_item("li_2", 10_000, [_wa(10_000)])]))
    request = make_request(
        customer_country="US",
        region="WA",
        postal_code="98101",
        currency="USD",
        seller=SellerTaxProfile(country="US"),
        amounts=(0, 10_000),
    )
    result = StripeTaxEngine(_client()).calculate(request)
    sent = _sent()
    assert sent["line_items[0][reference]"] == ["li_2"] and "line_items[1][reference]" not in sent
    assert not result.needs_review and [li.line_id for li in result.lines] == ["li_2"]
    assert result.lines_for("li_1") == ()


@responses.activate
def test_only_zero_amount_lines_means_no_call_and_no_tax(make_request: MakeRequest) -> None:
    request = make_request(
        customer_country="US", region="WA", currency="USD", seller=SellerTaxProfile(country="US"),
        amounts=(0,),
    )  # fmt: skip
    result = StripeTaxEngine(_client()).calculate(request)
    assert len(responses.calls) == 0
    assert result == TaxResult(engine="stripe_tax")


@responses.activate
def test_the_ip_address_from_the_evidence_is_sent(make_request: MakeRequest) -> None:
    responses.post(URL, json=_calculation([_line_item("li_1", 10_000, [_wa(10_000)])]))
    evidence = LocationEvidence(ip_country="US", ip_address="203.0.113.7")
    StripeTaxEngine(_client()).calculate(_wa_request(make_request, evidence=evidence))
    assert _sent()["customer_details[ip_address]"] == ["203.0.113.7"]


@responses.activate
def test_eu_consumers_need_two_agreeing_pieces_of_evidence_first(make_request: MakeRequest) -> None:
    engine = StripeTaxEngine(_client())
    one_piece = engine.calculate(
        make_request(customer_country="FR", evidence=LocationEvidence(billing_country="FR"))
    )
    conflict = engine.calculate(
        make_request(
            customer_country="FR", evidence=LocationEvidence(billing_country="FR", ip_country="DE")
        )
    )
    assert len(responses.calls) == 0  # Stripe is not asked
    assert one_piece.needs_review
    assert one_piece.review_reasons[0].startswith("location_evidence_insufficient")
    assert conflict.review_reasons[0].startswith("location_evidence_conflict")

    eu = {"country": "FR", "display_name": "France", "level": "country", "state": None}
    part = {**_breakdown(2_000, 10_000, "country", "France", "20.0", "standard_rated"),
            "jurisdiction": eu}  # fmt: skip
    responses.post(URL, json=_calculation([_line_item("li_1", 10_000, [part])], currency="eur"))
    taxed = engine.calculate(make_request(customer_country="FR"))  # billing + IP agree
    assert [(li.jurisdiction, li.rate, li.tax_amount) for li in taxed.lines] == [
        ("FR", Decimal("0.2"), 2_000)
    ]


@responses.activate
def test_reverse_flag_without_a_tax_id_needs_review(make_request: MakeRequest) -> None:
    result = StripeTaxEngine(_client()).calculate(_wa_request(make_request, tax_exempt="reverse"))
    assert len(responses.calls) == 0 and result.needs_review
    assert result.review_reasons[0].startswith("reverse_charge_without_vat_id: US")
