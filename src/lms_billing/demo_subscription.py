"""The subscription part of ``lms-billing demo``: a learner's monthly membership renewing
over five simulated months with a test clock, a welcome coupon and a mid-period upgrade.

It runs in memory with its own invoice series (``SIM-...``), so it never touches the demo
database and prints the same story on every run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from lms_billing.billing import Billing
from lms_billing.clock import TestClock
from lms_billing.domain.invoices import Invoice
from lms_billing.domain.numbering import NumberingSeries
from lms_billing.money import format_money, from_minor_units
from lms_billing.services.collection import OutOfBandCollector
from lms_billing.settings import BillingSettings
from lms_billing.storage.base import MAX_LIST_LIMIT

SIMULATION_START = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)  # a month-end anchor
SIMULATION_SERIES = NumberingSeries(id="simulation", prefix="SIM")


def _money(amount: int, currency: str) -> str:
    return format_money(from_minor_units(amount, currency, allow_negative=True), "en_US")


def _print_invoice(invoice: Invoice, echo: Callable[[str], None]) -> None:
    echo(
        f"  {invoice.number}  {invoice.created_at:%Y-%m-%d}  {invoice.billing_reason:<20} "
        f"total {_money(invoice.total, invoice.currency):>8}  {invoice.status.value}"
    )
    for line in invoice.lines:
        # A discount on a credit line is negative: it shrinks the credit ("+$1.96 coupon").
        off = _money(-line.discount, invoice.currency)
        discount = f"  ({'+' if line.discount < 0 else ''}{off} coupon)" if line.discount else ""
        echo(f"      {_money(line.amount, invoice.currency):>8}  {line.description}{discount}")


def run_subscription_demo(echo: Callable[[str], None] = print) -> list[Invoice]:
    """Simulate five months of one learner's subscription; returns its invoices."""
    clock = TestClock(SIMULATION_START)
    settings = BillingSettings(invoice_numbering=SIMULATION_SERIES)
    with Billing("memory://", clock=clock, settings=settings, load_entrypoints=False) as billing:
        billing.subscriptions.collector = OutOfBandCollector()  # simulated card payments
        customer = billing.customers.create(
            {"external_id": "learner-grace", "name": "Grace Hopper"}, idempotency_key="sim:c"
        )
        membership = billing.catalog.create_product(
            name="All-access membership", idempotency_key="sim:p"
        )
        monthly = {"interval": "month"}
        basic, pro = (
            billing.catalog.create_price(
                product_id=membership.id,
                currency="USD",
                scheme="per_unit",
                unit_amount=amount,
                recurring=monthly,
                nickname=name,
                idempotency_key=f"sim:{name}",
            )
            for name, amount in (("basic", 1900), ("pro", 3900))
        )
        welcome = billing.coupons.create_coupon(
            name="Welcome 20 % for 3 months",
            percent_off="20",
            duration="repeating",
            duration_in_months=3,
            idempotency_key="sim:coupon",
        )
        echo("")
        echo(f"Subscription simulation (test clock from {SIMULATION_START:%Y-%m-%d}):")
        sub = billing.subscriptions.create(
            customer.id, [{"price_id": basic.id}], coupon=welcome.id, idempotency_key="sim:s"
        )
        echo(f"{clock.now():%Y-%m-%d}: {customer.name} subscribes to Basic with {welcome.name}")
        steps: list[tuple[datetime, str]] = [
            (datetime(2026, 2, 28, 9, 0, tzinfo=UTC), "renewal"),
            (datetime(2026, 3, 15, 9, 0, tzinfo=UTC), "upgrade"),
            (datetime(2026, 3, 31, 9, 0, tzinfo=UTC), "renewal"),
            (datetime(2026, 4, 30, 9, 0, tzinfo=UTC), "renewal"),
            (datetime(2026, 5, 31, 9, 0, tzinfo=UTC), "renewal"),
        ]
        shown: set[str] = set()

        def show_new() -> None:
            with billing.storage.unit_of_work() as uow:
                found = uow.invoices.list(subscription_id=sub.id, limit=MAX_LIST_LIMIT)
            for invoice in sorted(found, key=lambda i: (i.created_at, i.number or "")):
                if invoice.id not in shown:
                    shown.add(invoice.id)
                    _print_invoice(invoice, echo)

        show_new()
        for moment, step in steps:
            clock.set(moment)
            if step == "upgrade":
                billing.subscriptions.update_items(
                    sub.id, [{"price_id": pro.id}], idempotency_key="sim:upgrade"
                )
                echo(f"{moment:%Y-%m-%d}: upgrade to Pro, prorated on the next invoice")
                continue
            result = billing.subscriptions.run_billing()
            echo(f"{moment:%Y-%m-%d}: billing run renewed {result.renewed} subscription(s)")
            show_new()
        with billing.storage.unit_of_work() as uow:
            invoices = uow.invoices.list(subscription_id=sub.id, limit=MAX_LIST_LIMIT)
    return sorted(invoices, key=lambda i: (i.created_at, i.number or ""))


__all__ = ["SIMULATION_SERIES", "SIMULATION_START", "run_subscription_demo"]
