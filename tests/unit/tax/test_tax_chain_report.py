"""Engine chaining, plugin registration, and the tax report with its CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

import pytest

from lms_billing.domain.fx import FxRate
from lms_billing.domain.tax import (
    SellerTaxProfile,
    TaxLine,
    TaxRegistration,
    TaxRequest,
    TaxResult,
)
from lms_billing.errors import ConfigurationError, NotFoundError
from lms_billing.plugins.manager import PluginHost, get_plugin_manager
from lms_billing.tax import plugin as tax_plugin
from lms_billing.tax.chain import TaxEngineChain, chain_by_name
from lms_billing.tax.eu_vat import EuVatEngine
from lms_billing.tax.report import (
    CSV_COLUMNS,
    FxEurRates,
    ReportPeriod,
    TaxedDocument,
    TaxScheme,
    build_tax_report,
    period_end,
    period_label,
    rate_type,
    tax_report_csv,
    tax_scheme,
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


OSS_SELLER = SellerTaxProfile(
    country="DE", vat_id="DE136695976", registrations=(TaxRegistration(jurisdiction="EU"),)
)


def test_report_totals_per_period_and_jurisdiction() -> None:
    rows = build_tax_report(DOCS, period=ReportPeriod.QUARTER, seller=OSS_SELLER)
    summary = [
        (r.period, r.scheme, r.jurisdiction, r.rate_type, r.rate, r.taxable_sales,
         r.tax_collected, r.reverse_charged_sales, r.zero_tax_sales, r.documents)
        for r in rows
    ]  # fmt: skip
    assert summary == [
        ("2025-Q3", "oss", "FR", "standard", Decimal("0.2"), 14_999, 3_000, 0, 0, 3),
        ("2025-Q3", "reverse_charge", "AT", "zero", Decimal("0"), 0, 0, 20_000, 0, 1),
        ("2025-Q4", "domestic", "DE", "zero", Decimal("0"), 0, 0, 0, 700, 1),
        ("2025-Q4", "oss", "FR", "standard", Decimal("0.2"), 1_000, 200, 0, 0, 1),
    ]
    # cn_1 has no corrects_issued_on, and is in the same quarter anyway: netted.
    assert all(r.corrects_period is None for r in rows)


def test_report_period_filter_and_labels() -> None:
    rows = build_tax_report(
        DOCS, period=ReportPeriod.MONTH, start=date(2025, 8, 1), end=date(2025, 8, 31)
    )
    assert {r.period for r in rows} == {"2025-08"}
    assert period_label(date(2025, 12, 31), ReportPeriod.QUARTER) == "2025-Q4"
    assert period_label(date(2025, 12, 31), ReportPeriod.YEAR) == "2025"
    assert period_end(date(2025, 2, 10), ReportPeriod.MONTH) == date(2025, 2, 28)
    assert period_end(date(2024, 2, 10), ReportPeriod.MONTH) == date(2024, 2, 29)
    assert period_end(date(2025, 11, 5), ReportPeriod.QUARTER) == date(2025, 12, 31)
    assert period_end(date(2025, 4, 1), ReportPeriod.QUARTER) == date(2025, 6, 30)
    assert period_end(date(2025, 4, 1), ReportPeriod.YEAR) == date(2025, 12, 31)


def test_schemes_separate_oss_domestic_local_and_non_eu_sales() -> None:
    local_seller = SellerTaxProfile(
        country="DE", vat_id="DE136695976", registrations=(TaxRegistration(jurisdiction="FR"),)
    )
    fr = _line("FR", "0.20", 100, 20)
    home = _line("DE", "0.19", 100, 19, "home_country_threshold")
    assert tax_scheme(fr, OSS_SELLER) == TaxScheme.OSS
    assert tax_scheme(fr, local_seller) == TaxScheme.LOCAL
    assert tax_scheme(_line("DE", "0.19", 100, 19), OSS_SELLER) == TaxScheme.DOMESTIC
    assert tax_scheme(home, None) == TaxScheme.DOMESTIC  # home-country VAT under Art. 59c
    assert tax_scheme(_line("GB", "0.20", 100, 20), OSS_SELLER) == TaxScheme.NON_EU
    assert tax_scheme(_line("US-NY", "0.04", 100, 4), OSS_SELLER) == TaxScheme.NON_EU
    assert tax_scheme(fr, None) == TaxScheme.EU_UNCLASSIFIED
    reverse = _line("AT", "0", 100, 0, "reverse_charge", reverse=True)
    assert tax_scheme(reverse, OSS_SELLER) == TaxScheme.REVERSE_CHARGE


def test_schemes_follow_the_registrations_in_force_on_the_supply_date() -> None:
    # Local FR registration until 31 March, then OSS from 1 April: a Q1 report made today
    # must still put the March sale on the French return, and its correction in Q2 too.
    seller = SellerTaxProfile(
        country="DE",
        vat_id="DE136695976",
        registrations=(
            TaxRegistration(jurisdiction="FR", valid_until=date(2026, 3, 31)),
            TaxRegistration(jurisdiction="EU", valid_from=date(2026, 4, 1)),
        ),
    )
    fr = _line("FR", "0.20", 100, 20)
    assert tax_scheme(fr, seller, date(2026, 3, 31)) == TaxScheme.LOCAL
    assert tax_scheme(fr, seller, date(2026, 4, 1)) == TaxScheme.OSS
    march = TaxedDocument(
        document_id="in_m", issued_on=date(2026, 3, 20), currency="EUR", lines=(fr,)
    )
    april = TaxedDocument(
        document_id="in_a", issued_on=date(2026, 4, 2), currency="EUR", lines=(fr,)
    )
    correction = TaxedDocument(
        document_id="cn_m",
        issued_on=date(2026, 4, 10),
        currency="EUR",
        lines=(fr,),
        credit_note=True,
        corrects_document_id="in_m",
        corrects_issued_on=date(2026, 3, 20),
    )
    rows = build_tax_report([march, april, correction], seller=seller)
    assert [(r.period, r.corrects_period, r.scheme) for r in rows] == [
        ("2026-Q1", None, "local"),
        ("2026-Q2", None, "oss"),
        ("2026-Q2", "2026-Q1", "local"),
    ]


def test_rate_types_come_from_the_rate_table_on_the_supply_date() -> None:
    on = date(2025, 9, 1)
    assert rate_type(_line("DE", "0.19", 100, 19), on) == "standard"
    assert rate_type(_line("DE", "0.07", 100, 7), on) == "reduced"
    assert rate_type(_line("DE", "0", 100, 0, "exempt"), on) == "zero"
    assert rate_type(_line("DE", "0.16", 100, 16), on) == "unknown"
    # Finland's 14 % was reduced until 2025-12-31 and is no rate at all from 2026-01-01.
    assert rate_type(_line("FI", "0.14", 100, 14), date(2025, 12, 31)) == "reduced"
    assert rate_type(_line("FI", "0.14", 100, 14), date(2026, 1, 1)) == "unknown"
    assert rate_type(_line("GB", "0.20", 100, 20, "standard_rated"), on) == "standard"
    assert rate_type(_line("CA-QC", "0.05", 100, 5, "reduced_rated"), on) == "reduced"


def test_csv_export_contents() -> None:
    text = tax_report_csv(build_tax_report(DOCS[:3], seller=OSS_SELLER))
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[1:] == [
        ["2025-Q3", "", "oss", "FR", "vat", "standard", "20", "EUR", "149.99", "30.00", "0.00",
         "0.00", "3", "native", "1", "149.99", "30.00", "0.00", "0.00"],
        ["2025-Q3", "", "reverse_charge", "AT", "vat", "zero", "0", "EUR", "0.00", "0.00",
         "200.00", "0.00", "1", "native", "1", "0.00", "0.00", "200.00", "0.00"],
    ]  # fmt: skip


def test_csv_uses_each_currency_minor_unit_and_leaves_eur_empty_without_a_rate() -> None:
    doc = TaxedDocument(document_id="jp", issued_on=date(2025, 1, 5), currency="JPY",
                        lines=(_line("JP", "0.10", 10_000, 1_000),))  # fmt: skip
    line = tax_report_csv(build_tax_report([doc])).splitlines()[1]
    assert line == "2025-Q1,,non_eu,JP,vat,standard,10,JPY,10000,1000,0,0,1,missing,,,,,"


class FakeEurRates:
    def __init__(self, rates: dict[tuple[str, date], Decimal]) -> None:
        self.rates = rates
        self.asked: list[tuple[str, date]] = []

    def eur_rate(self, currency: str, on: date) -> Decimal | None:
        self.asked.append((currency, on))
        return self.rates.get((currency, on))


def _usd(document_id: str, on: date, taxable: int, tax: int, **kw: object) -> TaxedDocument:
    return TaxedDocument(document_id=document_id, issued_on=on, currency="USD",
                         lines=(_line("FR", "0.20", taxable, tax),), **kw)  # type: ignore[arg-type]  # fmt: skip


def test_eur_conversion_at_the_rate_of_the_periods_last_day() -> None:
    source = FakeEurRates({("USD", date(2025, 9, 30)): Decimal("0.8512")})
    docs = [_usd("in_1", date(2025, 7, 3), 10_000, 2_000), _usd("in_2", date(2025, 9, 9), 333, 67)]
    (row,) = build_tax_report(docs, seller=OSS_SELLER, eur_rates=source)
    assert source.asked == [("USD", date(2025, 9, 30))]
    assert (row.currency, row.taxable_sales, row.tax_collected) == ("USD", 10_333, 2_067)
    assert row.eur_conversion == "period_end_rate" and row.eur_rate == Decimal("0.8512")
    # 103.33 * 0.8512 = 87.954496 -> 87.95; 20.67 * 0.8512 = 17.594304 -> 17.59 (half-up).
    assert (row.eur_taxable_sales, row.eur_tax_collected) == (Decimal("87.95"), Decimal("17.59"))
    missing = build_tax_report(docs, eur_rates=FakeEurRates({}))[0]
    assert missing.eur_conversion == "missing" and missing.eur_taxable_sales is None


def test_eur_conversion_from_recorded_rates_needs_every_document_to_have_one() -> None:
    docs = [
        _usd("in_1", date(2025, 7, 3), 10_000, 2_000, eur_rate=Decimal("0.9")),
        _usd("in_2", date(2025, 8, 3), 5_000, 1_000, eur_rate=Decimal("0.8")),
    ]
    (row,) = build_tax_report(docs)
    assert row.eur_conversion == "recorded" and row.eur_rate is None
    assert (row.eur_taxable_sales, row.eur_tax_collected) == (Decimal("130.00"), Decimal("26.00"))
    (partial,) = build_tax_report([*docs, _usd("in_3", date(2025, 8, 4), 100, 20)])
    assert partial.eur_conversion == "missing" and partial.eur_tax_collected is None


def test_fx_plugins_can_serve_as_the_eur_rate_source() -> None:
    class Fx:
        name = "fixed"

        def get_rate(self, base: str, quote: str, at: datetime) -> FxRate | None:
            if (base, quote) != ("USD", "EUR"):
                return None
            return FxRate(base=base, quote=quote, rate=Decimal("0.9"), as_of=at, source="t")

    source = FxEurRates([Fx()])
    assert source.eur_rate("USD", date(2025, 9, 30)) == Decimal("0.9")
    assert source.eur_rate("GBP", date(2025, 9, 30)) is None


def test_corrections_of_an_earlier_period_get_their_own_rows() -> None:
    invoice = TaxedDocument(document_id="in_7", issued_on=date(2025, 8, 9), currency="EUR",
                            lines=(_line("FR", "0.20", 5_000, 1_000),))  # fmt: skip
    credit = TaxedDocument(
        document_id="cn_7",
        issued_on=date(2025, 10, 15),
        currency="EUR",
        lines=(_line("FR", "0.20", 5_000, 1_000),),
        credit_note=True,
        corrects_document_id="in_7",
        corrects_issued_on=date(2025, 8, 9),
    )
    q4_sale = DOCS[3]
    rows = build_tax_report([invoice, credit, q4_sale], seller=OSS_SELLER, start=date(2025, 10, 1))
    summary = [(r.period, r.corrects_period, r.jurisdiction, r.taxable_sales, r.tax_collected)
               for r in rows if r.jurisdiction == "FR"]  # fmt: skip
    assert summary == [
        ("2025-Q4", None, "FR", 1_000, 200),  # the quarter's own sales
        ("2025-Q4", "2025-Q3", "FR", -5_000, -1_000),  # declared in Q4, against Q3 and FR
    ]
    csv_row = tax_report_csv(rows).splitlines()[-1].split(",")
    assert csv_row[:4] == ["2025-Q4", "2025-Q3", "oss", "FR"]


def test_a_correction_keeps_the_original_rate_type_and_conversion_day() -> None:
    fi = _line("FI", "0.14", 10_000, 1_400)
    credit = TaxedDocument(document_id="cn_8", issued_on=date(2026, 1, 10), currency="USD",
                           lines=(fi,), credit_note=True,
                           corrects_issued_on=date(2025, 12, 20))  # fmt: skip
    source = FakeEurRates({("USD", date(2025, 12, 31)): Decimal("0.5")})
    (row,) = build_tax_report([credit], seller=OSS_SELLER, eur_rates=source)
    assert (row.period, row.corrects_period, row.rate_type) == ("2026-Q1", "2025-Q4", "reduced")
    assert source.asked == [("USD", date(2025, 12, 31))]
    assert row.eur_tax_collected == Decimal("-7.00")
