"""Builders for the rendering tests (imported relatively): invoices taxed by chosen rules."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

from pypdf import PdfReader

from lms_billing.domain.customers import Address, TaxId
from lms_billing.domain.invoices import (
    Invoice,
    InvoiceLine,
    TaxContext,
    add_line,
    compute_tax,
    finalize,
)
from lms_billing.domain.tax import SellerTaxProfile, TaxCustomer, TaxRequest, TaxResult
from lms_billing.money import format_money, from_minor_units
from lms_billing.rendering import SellerDetails
from lms_billing.tax.compute import TaxDecision, compute_tax_lines

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)

SELLER = SellerDetails(
    name="Lernwerk Akademie GmbH",
    address=Address(line1="Torstraße 12", city="Berlin", postal_code="10119", country="DE"),
    tax_ids=(TaxId(type="eu_vat", value="DE123456789"),),
)

# (jurisdiction, tax type, rate, reason[, reverse charge])
Rule = tuple[str, str, str, str] | tuple[str, str, str, str, bool]


class RuleEngine:
    """Taxes each line by the rules given for it (real tax arithmetic, chosen outcomes)."""

    name = "rules"

    def __init__(self, rules: Mapping[str, Sequence[Rule]], *, notes: tuple[str, ...] = ()) -> None:
        self.rules = rules
        self.notes = notes

    def handles(self, request: TaxRequest) -> bool:
        return True

    def calculate(self, request: TaxRequest) -> TaxResult:
        decisions = [
            TaxDecision(
                item.line_id,
                rule[0],
                rule[1],
                Decimal(rule[2]),
                rule[3],
                reverse_charge=len(rule) > 4 and bool(rule[4]),
            )
            for item in request.items
            for rule in self.rules.get(item.line_id, ())
        ]
        lines = compute_tax_lines(request.items, decisions)
        return TaxResult(engine=self.name, lines=lines, notes=self.notes)


def taxed_invoice(
    lines: Sequence[tuple[str, int, int]],
    rules: Mapping[str, Sequence[Rule]],
    *,
    currency: str = "EUR",
    notes: tuple[str, ...] = (),
    number: str = "INV-2026-000042",
    inclusive: frozenset[str] = frozenset(),
) -> Invoice:
    """A finalized invoice of ``(line id, unit amount, quantity)`` lines taxed by ``rules``;
    the lines named in ``inclusive`` have tax-inclusive prices."""
    invoice = Invoice(
        id="in_1", customer_id="cus_1", currency=currency, created_at=NOW, customer_name="Ada"
    )
    for line_id, unit, quantity in lines:
        line = InvoiceLine(
            id=line_id,
            description=f"Item {line_id}",
            unit_amount=unit,
            quantity=quantity,
            amount=unit * quantity,
            tax_behavior="inclusive" if line_id in inclusive else "exclusive",
        )
        invoice = add_line(invoice, line)
    context = TaxContext(
        seller=SellerTaxProfile(country="DE"),
        customer=TaxCustomer(country="FR"),
        transaction_date=date(2026, 3, 15),
    )
    invoice = compute_tax(invoice, RuleEngine(rules, notes=notes), context)
    return finalize(invoice, number, NOW)


def money(minor: int, locale: str, currency: str = "EUR") -> str:
    return format_money(from_minor_units(minor, currency), locale)


def plain(text: str) -> str:
    """No-break and narrow no-break spaces (French, German amounts) as plain spaces."""
    return text.replace("\xa0", " ").replace("\u202f", " ")


def pdf_pages(pdf: bytes) -> list[str]:
    """The extracted text of each page of a PDF, spaces made plain."""
    return [plain(page.extract_text()) for page in PdfReader(io.BytesIO(pdf)).pages]
