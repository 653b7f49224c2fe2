"""Report invariants: corrections move amounts between rows, never lose or duplicate them."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from lms_billing.domain.tax import SellerTaxProfile, TaxLine, TaxRegistration
from lms_billing.tax.report import ReportPeriod, TaxedDocument, build_tax_report, period_label

SELLER = SellerTaxProfile(
    country="DE", vat_id="DE136695976", registrations=(TaxRegistration(jurisdiction="EU"),)
)
START = date(2025, 1, 1)


def _line(country: str, taxable: int) -> TaxLine:
    return TaxLine(
        line_id="l",
        jurisdiction=country,
        tax_type="vat",
        rate=Decimal("0.20"),
        taxable_amount=taxable,
        tax_amount=taxable // 5,
        reason="standard_rated",
    )


sale = st.tuples(
    st.integers(0, 400),  # day offset of the invoice
    st.sampled_from(["FR", "AT", "DE"]),
    st.integers(1, 100_000),
    st.one_of(st.none(), st.integers(0, 300)),  # days later a full credit note follows
)


@settings(max_examples=200, deadline=None)
@given(st.lists(sale, max_size=12), st.sampled_from(list(ReportPeriod)))
def test_corrections_keep_totals_and_point_at_the_original_period(
    sales: list[tuple[int, str, int, int | None]], period: ReportPeriod
) -> None:
    docs = []
    for i, (offset, country, taxable, credit_after) in enumerate(sales):
        issued = START + timedelta(days=offset)
        docs.append(TaxedDocument(document_id=f"in_{i}", issued_on=issued, currency="EUR",
                                  lines=(_line(country, taxable),)))  # fmt: skip
        if credit_after is not None:
            docs.append(
                TaxedDocument(
                    document_id=f"cn_{i}",
                    issued_on=issued + timedelta(days=credit_after),
                    currency="EUR",
                    lines=(_line(country, taxable),),
                    credit_note=True,
                    corrects_issued_on=issued,
                )
            )
    rows = build_tax_report(docs, period=period, seller=SELLER)
    invoiced = sum(t for _, _, t, _ in sales)
    credited = sum(t for _, _, t, c in sales if c is not None)
    assert sum(r.taxable_sales for r in rows) == invoiced - credited
    # Per original period and member state, sales minus their corrections equal what is left.
    by_origin: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row.corrects_period or row.period, row.jurisdiction)
        by_origin[key] = by_origin.get(key, 0) + row.taxable_sales
    expected: dict[tuple[str, str], int] = {}
    for offset, country, taxable, credit_after in sales:
        key = (period_label(START + timedelta(days=offset), period), country)
        expected[key] = expected.get(key, 0) + (0 if credit_after is not None else taxable)
    assert {k: v for k, v in by_origin.items() if v} == {k: v for k, v in expected.items() if v}
    for row in rows:
        assert row.corrects_period is None or row.corrects_period < row.period
        assert row.eur_taxable_sales == Decimal(row.taxable_sales).scaleb(-2)
