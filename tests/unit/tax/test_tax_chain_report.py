"""Engine chaining, plugin registration, and the tax report with its CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest

from lms_billing.domain.tax import TaxLine, TaxRequest, TaxResult
from lms_billing.errors import ConfigurationError, NotFoundError
from lms_billing.plugins.manager import PluginHost, get_plugin_manager
from lms_billing.tax import plugin as tax_plugin
from lms_billing.tax.chain import TaxEngineChain, chain_by_name
from lms_billing.tax.eu_vat import EuVatEngine
from lms_billing.tax.report import (
    CSV_COLUMNS,
    ReportPeriod,
    TaxedDocument,
    build_tax_report,
    period_label,
    tax_report_csv,
)
from lms_billing.tax.us_sales_tax import UsSalesTaxEngine
from lms_billing.tax.zero import ZeroTaxEngine

MakeRequest = Callable[..., TaxRequest]


def test_zero_engine_handles_everything_and_taxes_nothing(make_request: MakeRequest) -> None:
    result = ZeroTaxEngine().calculate(make_request())
    assert ZeroTaxEngine().handles(make_request())
    assert result == TaxResult(engine="zero")


def test_chain_uses_the_first_engine_that_handles(make_request: MakeRequest) -> None:
    chain = TaxEngineChain([EuVatEngine(), UsSalesTaxEngine(nexus=["NY"]), ZeroTaxEngine()])
    assert chain.calculate(make_request(customer_country="FR")).engine == "eu_vat"
    us = make_request(customer_country="US", region="NY", currency="USD")
    assert chain.calculate(us).engine == "us_sales_tax"
    assert chain.calculate(make_request(customer_country="BR")).engine == "zero"


def test_chain_without_a_fallback_asks_for_review(make_request: MakeRequest) -> None:
    result = TaxEngineChain([EuVatEngine()]).calculate(make_request(customer_country="BR"))
    assert result.needs_review and result.review_reasons == ("no_tax_engine: BR",)
    with pytest.raises(ConfigurationError):
        TaxEngineChain([])


def test_builtin_engines_register_through_the_hook() -> None:
    host = PluginHost(get_plugin_manager([tax_plugin], load_entrypoints=False, builtins=False))
    engines = host.tax_engines()
    assert set(engines) == {
        "zero", "eu_vat", "uk_vat", "no_vat", "ch_vat", "au_gst", "jp_ct", "ca_gst", "us_sales_tax",
    }  # fmt: skip
    chain = chain_by_name(engines, ["eu_vat", "zero"])
    assert [e.name for e in chain.engines] == ["eu_vat", "zero"]
    with pytest.raises(NotFoundError):
        chain_by_name(engines, ["stripe_tax"])


def _line(jurisdiction: str, rate: str, taxable: int, tax: int, reason: str = "standard_rated",
          reverse: bool = False) -> TaxLine:  # fmt: skip
    return TaxLine(
        line_id="li",
        jurisdiction=jurisdiction,
        tax_type="vat",
        rate=Decimal(rate),
        taxable_amount=taxable,
        tax_amount=tax,
        reverse_charge=reverse,
        reason=reason,
    )


DOCS = [
    TaxedDocument(document_id="in_1", issued_on=date(2025, 7, 3), currency="EUR",
                  lines=(_line("FR", "0.20", 10_000, 2_000), _line("FR", "0.20", 4_999, 1_000))),
    TaxedDocument(document_id="in_2", issued_on=date(2025, 8, 9), currency="EUR",
                  lines=(_line("FR", "0.20", 5_000, 1_000),
                         _line("AT", "0", 20_000, 0, "reverse_charge", reverse=True))),
    TaxedDocument(document_id="cn_1", issued_on=date(2025, 9, 30), currency="EUR",
                  lines=(_line("FR", "0.20", 5_000, 1_000),), credit_note=True),
    TaxedDocument(document_id="in_3", issued_on=date(2025, 10, 1), currency="EUR",
                  lines=(_line("FR", "0.20", 1_000, 200), _line("DE", "0", 700, 0, "exempt"))),
]  # fmt: skip


def test_report_totals_per_period_and_jurisdiction() -> None:
    rows = build_tax_report(DOCS, period=ReportPeriod.QUARTER)
    summary = [
        (r.period, r.jurisdiction, r.rate, r.taxable_sales, r.tax_collected,
         r.reverse_charged_sales, r.zero_tax_sales, r.documents)
        for r in rows
    ]  # fmt: skip
    assert summary == [
        ("2025-Q3", "AT", Decimal("0"), 0, 0, 20_000, 0, 1),
        ("2025-Q3", "FR", Decimal("0.2"), 14_999, 3_000, 0, 0, 3),  # credit note subtracted
        ("2025-Q4", "DE", Decimal("0"), 0, 0, 0, 700, 1),
        ("2025-Q4", "FR", Decimal("0.2"), 1_000, 200, 0, 0, 1),
    ]


def test_report_period_filter_and_labels() -> None:
    rows = build_tax_report(
        DOCS, period=ReportPeriod.MONTH, start=date(2025, 8, 1), end=date(2025, 8, 31)
    )
    assert {r.period for r in rows} == {"2025-08"}
    assert period_label(date(2025, 12, 31), ReportPeriod.QUARTER) == "2025-Q4"
    assert period_label(date(2025, 12, 31), ReportPeriod.YEAR) == "2025"


def test_csv_export_contents() -> None:
    text = tax_report_csv(build_tax_report(DOCS[:3]))
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[1:] == [
        ["2025-Q3", "AT", "vat", "0", "EUR", "0.00", "0.00", "200.00", "0.00", "1"],
        ["2025-Q3", "FR", "vat", "20", "EUR", "149.99", "30.00", "0.00", "0.00", "3"],
    ]


def test_csv_uses_each_currency_minor_unit() -> None:
    doc = TaxedDocument(document_id="jp", issued_on=date(2025, 1, 5), currency="JPY",
                        lines=(_line("JP", "0.10", 10_000, 1_000),))  # fmt: skip
    line = tax_report_csv(build_tax_report([doc])).splitlines()[1]
    assert line == "2025-Q1,JP,vat,10,JPY,10000,1000,0,0,1"
