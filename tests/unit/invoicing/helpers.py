"""Shared builders for the invoicing tests (imported relatively)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from lms_billing.domain.invoices import Invoice, InvoiceLine, TaxContext
from lms_billing.domain.tax import (
    SellerTaxProfile,
    TaxCustomer,
    TaxLine,
    TaxRequest,
    TaxResult,
)
from lms_billing.money import RoundingMode, round_minor

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


class FlatVatEngine:
    """19 % VAT on every line; inclusive lines carry the tax inside their gross amount."""

    name = "flat_vat"

    def __init__(self, rate: Decimal = Decimal("0.19"), *, notes: tuple[str, ...] = ()) -> None:
        self.rate = rate
        self.notes = notes
        self.requests: list[TaxRequest] = []

    def handles(self, request: TaxRequest) -> bool:
        return True

    def calculate(self, request: TaxRequest) -> TaxResult:
        self.requests.append(request)
        lines = []
        for item in request.items:
            inclusive = item.tax_behavior == "inclusive"
            if inclusive:
                tax = item.amount - round_minor(
                    Decimal(item.amount) / (1 + self.rate), RoundingMode.HALF_UP
                )
                taxable = item.amount - tax
            else:
                tax = round_minor(Decimal(item.amount) * self.rate, RoundingMode.HALF_UP)
                taxable = item.amount
            lines.append(
                TaxLine(
                    line_id=item.line_id,
                    jurisdiction="DE",
                    tax_type="vat",
                    rate=self.rate,
                    taxable_amount=taxable,
                    tax_amount=tax,
                    reason="standard_rated",
                    inclusive=inclusive,
                )
            )
        return TaxResult(engine=self.name, lines=tuple(lines), notes=self.notes)


def tax_context() -> TaxContext:
    return TaxContext(
        seller=SellerTaxProfile(country="DE"),
        customer=TaxCustomer(country="DE"),
        transaction_date=date(2026, 3, 15),
    )


def make_line(line_id: str, unit_amount: int, quantity: int = 1, **kwargs: object) -> InvoiceLine:
    return InvoiceLine(
        id=line_id,
        description=kwargs.pop("description", f"Line {line_id}"),
        unit_amount=unit_amount,
        quantity=quantity,
        amount=unit_amount * quantity,
        **kwargs,
    )


def draft(currency: str = "EUR", **kwargs: object) -> Invoice:
    return Invoice(id="in_1", customer_id="cus_1", currency=currency, created_at=NOW, **kwargs)
