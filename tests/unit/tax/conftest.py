"""Builders for tax requests, shared by the tax tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import pytest

from lms_billing.domain.customers import TaxId
from lms_billing.domain.tax import (
    LocationEvidence,
    SellerTaxProfile,
    TaxCustomer,
    TaxLineItem,
    TaxRegistration,
    TaxRequest,
)

MakeRequest = Callable[..., TaxRequest]


def _request(
    *,
    customer_country: str = "FR",
    region: str | None = None,
    seller_country: str = "DE",
    seller_vat_id: str | None = "DE136695976",
    registrations: Sequence[str] = ("EU",),
    seller: SellerTaxProfile | None = None,
    customer: TaxCustomer | None = None,
    tax_ids: Sequence[tuple[str, str]] = (),
    amounts: Sequence[int] = (10_000,),
    behavior: str = "exclusive",
    tax_code: str | None = None,
    currency: str = "EUR",
    on: date = date(2025, 9, 1),
    evidence: LocationEvidence | str | None = "auto",
    **customer_fields: Any,
) -> TaxRequest:
    if seller is None:
        seller = SellerTaxProfile(
            country=seller_country,
            vat_id=seller_vat_id,
            registrations=tuple(TaxRegistration(jurisdiction=j) for j in registrations),
        )
    if customer is None:
        customer = TaxCustomer(
            country=customer_country,
            region=region,
            tax_ids=tuple(TaxId(type=t, value=v) for t, v in tax_ids),
            **customer_fields,
        )
    if evidence == "auto":
        evidence = LocationEvidence(billing_country=customer.country, ip_country=customer.country)
    assert not isinstance(evidence, str)
    items = tuple(
        TaxLineItem(line_id=f"li_{i}", amount=amount, tax_behavior=behavior, tax_code=tax_code)
        for i, amount in enumerate(amounts, start=1)
    )
    return TaxRequest(
        seller=seller,
        customer=customer,
        currency=currency,
        items=items,
        transaction_date=on,
        evidence=evidence,
    )


@pytest.fixture
def make_request() -> MakeRequest:
    """``make_request(customer_country="FR", amounts=(10_000,), ...)`` -> TaxRequest."""
    return _request
