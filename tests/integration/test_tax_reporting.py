"""Tax reports from stored invoices and credit notes, and exemption certificates on customers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from lms_billing import Billing, TestClock
from lms_billing.cli import main
from lms_billing.demo_tax import TAX_DEMO_SETTINGS

FEB = datetime(2026, 2, 10, 9, 0, tzinfo=UTC)
FR_LEARNER = {"external_id": "fr", "name": "Camille", "address": {"country": "FR"}}
FR_EVIDENCE = {"billing_country": "FR", "ip_country": "FR"}
DE_BUSINESS = {
    "external_id": "de",
    "name": "Partner GmbH",
    "kind": "organization",
    "address": {"country": "DE"},
    "tax_ids": [{"type": "eu_vat", "value": "DE136695976"}],
}


@pytest.fixture
def clock() -> TestClock:
    return TestClock(FEB)


@pytest.fixture
def billing(storage_url: str, clock: TestClock) -> Iterator[Billing]:
    with Billing(
        storage_url, settings=TAX_DEMO_SETTINGS, clock=clock, load_entrypoints=False
    ) as opened:
        yield opened


def _invoice(
    billing: Billing, key: str, customer_id: str, amount: int, evidence: object = None
) -> str:
    draft = billing.invoices.create_draft(customer_id, "EUR", idempotency_key=f"{key}-d")
    billing.invoices.add_line(
        draft.id, description="Course", unit_amount=amount, idempotency_key=f"{key}-l"
    )
    return billing.invoices.finalize(
        draft.id,
        evidence=evidence,
        idempotency_key=f"{key}-f",  # type: ignore[arg-type]
    ).id


def test_quarterly_report_nets_credit_notes_and_skips_voided_invoices(billing: Billing) -> None:
    fr = billing.customers.create(FR_LEARNER, idempotency_key="c-fr")
    de = billing.customers.create(DE_BUSINESS, idempotency_key="c-de")
    _invoice(billing, "i1", fr.id, 10000, FR_EVIDENCE)  # 100.00 + 20.00 VAT
    credited = _invoice(billing, "i2", fr.id, 20000, FR_EVIDENCE)  # 200.00 + 40.00 VAT
    _invoice(billing, "i3", de.id, 10000)  # reverse charge
    voided = _invoice(billing, "i4", fr.id, 5000, FR_EVIDENCE)
    billing.invoices.void(voided, idempotency_key="v4")
    line = billing.invoices.get_invoice(credited).lines[0]
    billing.invoices.create_credit_note(
        credited, lines=[{"invoice_line_id": line.id, "amount": 5000}], idempotency_key="cn"
    )

    rows = {
        (row.jurisdiction, row.tax_type): row
        for row in billing.tax_reports.report(date(2026, 1, 1), date(2026, 3, 31))
    }
    france, germany = rows[("FR", "vat")], rows[("DE", "vat")]
    assert (france.period, france.currency) == ("2026-Q1", "EUR")
    assert france.taxable_sales == 10000 + 20000 - 5000
    assert france.tax_collected == 2000 + 4000 - 1000
    assert germany.reverse_charged_sales == 10000 and germany.tax_collected == 0
    # Outside the period: nothing.
    assert billing.tax_reports.report(date(2026, 4, 1), date(2026, 6, 30)) == ()


def test_rows_carry_the_scheme_and_eur_columns(billing: Billing) -> None:
    fr = billing.customers.create(FR_LEARNER, idempotency_key="c-fr")
    de = billing.customers.create(DE_BUSINESS, idempotency_key="c-de")
    _invoice(billing, "i1", fr.id, 10000, FR_EVIDENCE)
    _invoice(billing, "i2", de.id, 10000)
    rows = billing.tax_reports.report(date(2026, 1, 1), date(2026, 3, 31))
    # The Irish seller of the demo settings is registered for OSS.
    assert [(r.scheme, r.jurisdiction, r.rate_type, r.eur_conversion) for r in rows] == [
        ("oss", "FR", "standard", "native"),
        ("reverse_charge", "DE", "zero", "native"),
    ]
    assert rows[0].eur_tax_collected == Decimal("20.00")


def test_a_credit_note_for_last_quarter_is_a_correction_of_that_quarter(
    billing: Billing, clock: TestClock
) -> None:
    fr = billing.customers.create(FR_LEARNER, idempotency_key="c-fr")
    credited = _invoice(billing, "i1", fr.id, 20000, FR_EVIDENCE)  # 2026-02-10, Q1
    clock.set(datetime(2026, 4, 20, 9, 0, tzinfo=UTC))
    _invoice(billing, "i2", fr.id, 10000, FR_EVIDENCE)  # Q2
    line = billing.invoices.get_invoice(credited).lines[0]
    billing.invoices.create_credit_note(
        credited, lines=[{"invoice_line_id": line.id, "amount": 5000}], idempotency_key="cn"
    )
    rows = billing.tax_reports.report(date(2026, 4, 1), date(2026, 6, 30))
    assert [
        (r.period, r.corrects_period, r.jurisdiction, r.taxable_sales, r.tax_collected)
        for r in rows
    ] == [
        ("2026-Q2", None, "FR", 10000, 2000),
        ("2026-Q2", "2026-Q1", "FR", -5000, -1000),  # OSS: corrects Q1 in the Q2 return
    ]


def test_exemption_certificates_recorded_on_the_customer_zero_the_tax(billing: Billing) -> None:
    buyer = billing.customers.create(
        {
            "external_id": "ny-school",
            "name": "NY School",
            "address": {"country": "US", "state": "NY"},
            "exemption_certificates": [
                {"certificate_id": "ST-119", "jurisdiction": "US-NY", "valid_from": "2026-01-01"}
            ],
        },
        idempotency_key="c-ny",
    )
    draft = billing.invoices.create_draft(buyer.id, "USD", idempotency_key="ny-d")
    billing.invoices.add_line(
        draft.id, description="Course", unit_amount=11000, idempotency_key="ny-l"
    )
    invoice = billing.invoices.finalize(draft.id, idempotency_key="ny-f")
    assert invoice.tax == 0 and invoice.total == 11000
    assert [(t.jurisdiction, t.reason) for t in invoice.lines[0].tax_amounts] == [
        ("US-NY", "exempt")
    ]


def test_tax_report_command_prints_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'tax.db'}"
    with Billing(url, settings=TAX_DEMO_SETTINGS, clock=TestClock(FEB)) as billing:
        fr = billing.customers.create(FR_LEARNER, idempotency_key="c-fr")
        _invoice(billing, "i1", fr.id, 10000, FR_EVIDENCE)
    args = ["tax-report", "--storage-url", url, "--from", "2026-01-01", "--to", "2026-03-31"]
    assert main(args) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [
        (r["period"], r["jurisdiction"], r["taxable_sales"], r["tax_collected"]) for r in rows
    ] == [("2026-Q1", "FR", "100.00", "20.00")]
    assert main([*args[:-1], "not-a-date"]) == 1


def test_tax_report_command_with_the_app_uses_its_seller_and_fx_sources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'tax.db'}"
    with Billing(url, settings=TAX_DEMO_SETTINGS, clock=TestClock(FEB)) as billing:
        fr = billing.customers.create(FR_LEARNER, idempotency_key="c-fr")
        _invoice(billing, "i1", fr.id, 10000, FR_EVIDENCE)
        us = billing.customers.create(
            {"external_id": "us", "name": "Sam", "address": {"country": "US", "state": "OR"}},
            idempotency_key="c-us",
        )
        draft = billing.invoices.create_draft(us.id, "USD", idempotency_key="us-d")
        billing.invoices.add_line(
            draft.id, description="Course", unit_amount=5000, idempotency_key="us-l"
        )
        billing.invoices.finalize(draft.id, idempotency_key="us-f")
    (tmp_path / "tax_app.py").write_text(
        f"""
from datetime import datetime
from decimal import Decimal

from lms_billing import Billing
from lms_billing.demo_tax import TAX_DEMO_SETTINGS
from lms_billing.domain.fx import FxRate
from lms_billing.hookspecs import hookimpl


class Ecb:
    name = "ecb"

    def get_rate(self, base, quote, at):
        if (base, quote) != ("USD", "EUR"):
            return None
        return FxRate(base=base, quote=quote, rate=Decimal("0.9"), as_of=at, source="ecb")


class Rates:
    @hookimpl
    def lms_billing_fx_rates(self):
        return [Ecb()]


def create_billing():
    return Billing({url!r}, settings=TAX_DEMO_SETTINGS, plugins=[Rates()],
                   load_entrypoints=False)
""",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    args = ["tax-report", "--from", "2026-01-01", "--to", "2026-03-31"]

    def rows(*extra: str) -> dict[str, dict[str, str]]:
        assert main([*args, *extra]) == 0
        return {r["currency"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}

    defaults = rows("--storage-url", url)
    assert defaults["EUR"]["scheme"] == "eu_unclassified"  # no seller: cannot classify
    with_app = rows("--app", "tax_app:create_billing")
    assert with_app["EUR"]["scheme"] == "oss"  # the app's seller files under OSS
    assert with_app["USD"]["eur_conversion"] == "missing"  # FX sources only when asked
    converted = rows("--app", "tax_app:create_billing", "--eur-rates", "fx-sources")
    usd = converted["USD"]
    assert (usd["eur_conversion"], usd["eur_rate"]) == ("period_end_rate", "0.9")
    assert (usd["zero_tax_sales"], usd["eur_zero_tax_sales"]) == ("50.00", "45.00")
