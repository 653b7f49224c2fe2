"""The upcoming-invoice preview is the invoice the subscription will really get: same lines
and labels, coupons, tax through the configured engines, customer credit, for each
proration behaviour, and nothing is written."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from subscription_support import EventLog

from lms_billing import Billing, TestClock
from lms_billing.domain.catalog import Price
from lms_billing.domain.customer_balance import (
    BalanceTransactionType,
    CustomerBalanceTransaction,
)
from lms_billing.domain.customers import Customer
from lms_billing.domain.invoices import Invoice
from lms_billing.domain.tax import SellerTaxProfile, TaxLine, TaxRequest, TaxResult
from lms_billing.hookspecs import hookimpl
from lms_billing.services.collection import OutOfBandCollector
from lms_billing.settings import BillingSettings, SellerDetails
from lms_billing.storage.base import MAX_LIST_LIMIT

JAN_31 = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)
FEB_14 = datetime(2026, 2, 14, 9, 0, tzinfo=UTC)  # halfway through Jan 31 - Feb 28


class _FlatVat:
    """19 % on every line (credits get negative tax), a stand-in tax engine."""

    name = "flat_vat"

    def handles(self, request: TaxRequest) -> bool:
        return True

    def calculate(self, request: TaxRequest) -> TaxResult:
        def tax(amount: int) -> int:
            magnitude = (abs(amount) * 19 + 50) // 100  # half-up to the cent
            return magnitude if amount >= 0 else -magnitude

        return TaxResult(
            engine=self.name,
            lines=tuple(
                TaxLine(
                    line_id=item.line_id,
                    jurisdiction=request.customer.country,
                    tax_type="vat",
                    rate=Decimal("0.19"),
                    taxable_amount=item.amount,
                    tax_amount=tax(item.amount),
                    reason="standard_rated",
                )
                for item in request.items
            ),
        )


class _VatPlugin:
    @hookimpl
    def lms_billing_tax_engines(self) -> list[object]:
        return [_FlatVat()]


class _Taxed:
    def __init__(self, tmp_path: Path) -> None:
        self.clock = TestClock(JAN_31)
        self.log = EventLog()
        self.billing = Billing(
            f"sqlite:///{tmp_path / 'preview.db'}",
            clock=self.clock,
            plugins=[_VatPlugin(), self.log],
            settings=BillingSettings(
                seller=SellerDetails(name="Lernwerk", tax_profile=SellerTaxProfile(country="DE")),
                tax_engines=("flat_vat",),
            ),
            load_entrypoints=False,
        )
        self.billing.subscriptions.collector = OutOfBandCollector()
        self.customer: Customer = self.billing.customers.create(
            {"external_id": "u1", "name": "Ada", "address": {"country": "DE"}},
            idempotency_key="c",
        )
        product = self.billing.catalog.create_product(name="Academy", idempotency_key="p")
        self.basic, self.pro = (
            self._price(product.id, n, a) for n, a in (("Basic", 1000), ("Pro", 2000))
        )

    def _price(self, product_id: str, nickname: str, amount: int) -> Price:
        return self.billing.catalog.create_price(
            product_id=product_id,
            currency="EUR",
            unit_amount=amount,
            scheme="per_unit",
            nickname=nickname,
            recurring={"interval": "month"},
            idempotency_key=f"price-{nickname}",
        )

    def stored(self) -> dict[str, Any]:
        with self.billing.storage.unit_of_work() as uow:
            return {
                "invoices": [i.model_dump() for i in uow.invoices.list(limit=MAX_LIST_LIMIT)],
                "subscriptions": [
                    r.model_dump() for r in uow.subscriptions.list(limit=MAX_LIST_LIMIT)
                ],
                "balance": uow.customer_balance.list(self.customer.id),
            }

    def latest(self) -> Invoice:
        return self.billing.invoices.list_invoices(customer_id=self.customer.id)[0]


@pytest.fixture
def taxed(tmp_path: Path) -> Iterator[_Taxed]:
    shop = _Taxed(tmp_path)
    yield shop
    shop.billing.close()


def _shape(invoice: Invoice) -> tuple[object, ...]:
    lines = [(line.description, line.amount, line.tax, line.proration) for line in invoice.lines]
    return (lines, invoice.subtotal, invoice.tax, invoice.total, invoice.billing_reason)


def test_the_renewal_preview_has_tax_credit_and_labels(taxed: _Taxed) -> None:
    billing = taxed.billing
    sub = billing.subscriptions.create(
        taxed.customer.id, [{"price_id": taxed.basic.id}], idempotency_key="s"
    )
    with billing.storage.unit_of_work() as uow:
        uow.customer_balance.add(
            CustomerBalanceTransaction(
                id="cbtxn_gift",
                customer_id=taxed.customer.id,
                currency="EUR",
                amount=300,
                type=BalanceTransactionType.ADJUSTMENT,
                created_at=JAN_31,
            )
        )
        uow.commit()
    before = taxed.stored()
    preview = billing.subscriptions.preview_upcoming_invoice(sub.id)
    assert preview is not None
    assert taxed.stored() == before  # nothing written
    assert [line.description for line in preview.lines] == ["1 × Academy (Basic)"]  # noqa: RUF001
    assert (preview.tax, preview.total, preview.applied_balance, preview.amount_due) == (
        190,
        1190,
        300,
        890,
    )
    assert preview.created_at == sub.current_period_end
    assert preview.id == f"upcoming_{sub.id}" and preview.number is None
    taxed.clock.set(sub.current_period_end)
    billing.subscriptions.run_billing()
    real = taxed.latest()
    assert _shape(preview) == _shape(real)
    assert (real.applied_balance, real.amount_paid) == (300, 890)


@pytest.mark.parametrize("behavior", ["create_prorations", "always_invoice", "none"])
def test_a_plan_change_preview_matches_what_the_change_bills(taxed: _Taxed, behavior: str) -> None:
    billing = taxed.billing
    sub = billing.subscriptions.create(
        taxed.customer.id, [{"price_id": taxed.basic.id}], idempotency_key="s"
    )
    taxed.clock.set(FEB_14)
    change: list[dict[str, Any]] = [{"price_id": taxed.pro.id}]
    before = taxed.stored()
    preview = billing.subscriptions.preview_upcoming_invoice(
        sub.id, items=change, proration_behavior=behavior
    )
    assert preview is not None and taxed.stored() == before
    billing.subscriptions.update_items(
        sub.id, change, proration_behavior=behavior, idempotency_key="u"
    )
    if behavior != "always_invoice":  # billed by the renewal
        taxed.clock.set(sub.current_period_end)
        billing.subscriptions.run_billing()
    real = taxed.latest()
    assert _shape(preview) == _shape(real)
    descriptions = [line.description for line in preview.lines]
    if behavior == "none":
        assert descriptions == ["1 × Academy (Pro)"]  # noqa: RUF001
    else:
        # Both prices named by their labels, the old one's credit included.
        assert descriptions[-2:] == [
            "Unused time on 1 × Academy (Basic) after 14 Feb 2026",  # noqa: RUF001
            "Remaining time on 1 × Academy (Pro) after 14 Feb 2026",  # noqa: RUF001
        ]
        assert [line.amount for line in preview.lines][-2:] == [-500, 1000]
        assert [line.tax for line in preview.lines][-2:] == [-95, 190]
    if behavior == "always_invoice":
        assert preview.billing_reason == "subscription_update" and preview.total == 595


def test_no_preview_once_canceled(taxed: _Taxed) -> None:
    billing = taxed.billing
    sub = billing.subscriptions.create(
        taxed.customer.id, [{"price_id": taxed.basic.id}], idempotency_key="s"
    )
    billing.subscriptions.cancel(sub.id, idempotency_key="x")
    assert billing.subscriptions.preview_upcoming_invoice(sub.id) is None
