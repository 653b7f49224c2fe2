"""Billing runs driven by a test clock: a year of renewals, trials, cancellations, pauses,
upgrades and coupons, as Stripe's test clocks show them."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from subscription_support import DecliningCollector, Shop, shop_on

from lms_billing import Billing, TestClock
from lms_billing.domain.customer_balance import (
    BalanceTransactionType,
    CustomerBalanceTransaction,
)
from lms_billing.domain.invoices import InvoiceStatus
from lms_billing.domain.subscriptions import SubscriptionStatus
from lms_billing.domain.tax import SellerTaxProfile, TaxLine, TaxRequest, TaxResult
from lms_billing.hookspecs import hookimpl
from lms_billing.services.collection import OutOfBandCollector
from lms_billing.settings import BillingSettings, SellerDetails

JAN_31 = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite"])
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shop]:
    yield from shop_on(request.param, tmp_path, start=JAN_31)


def _at(month: int, day: int, year: int = 2026) -> datetime:
    return datetime(year, month, day, 9, 0, tzinfo=UTC)


def _advance_and_run(shop: Shop, to: datetime) -> None:
    shop.clock.set(to)
    shop.subscriptions.run_billing()


def test_a_year_of_monthly_renewals_from_a_jan_31_anchor(shop: Shop) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], idempotency_key="c"
    )
    ends = [sub.current_period_end]
    for _ in range(12):
        _advance_and_run(shop, ends[-1])
        ends.append(shop.subscriptions.get(sub.id).current_period_end)
    assert [(e.month, e.day) for e in ends[:6]] == [
        (2, 28),
        (3, 31),
        (4, 30),
        (5, 31),
        (6, 30),
        (7, 31),
    ]
    assert ends[-2:] == [datetime(2027, 1, 31, 9, 0, tzinfo=UTC), _at(2, 28, 2027)]
    invoices = shop.invoices(sub.id)
    assert len(invoices) == 13  # the first period and twelve renewals
    assert all(i.status is InvoiceStatus.PAID and i.total == 1000 for i in invoices)
    assert [i.number for i in invoices] == [f"INV-2026-{n:06d}" for n in range(1, 13)] + [
        "INV-2027-000001"
    ]
    periods = [i.lines[0].period for i in invoices]
    assert all(
        a is not None and b is not None and a.end == b.start for a, b in itertools.pairwise(periods)
    )


def test_running_twice_at_the_same_instant_bills_nothing_twice(shop: Shop) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], idempotency_key="c"
    )
    shop.clock.set(sub.current_period_end)
    first = shop.subscriptions.run_billing()
    second = shop.subscriptions.run_billing()
    assert (first.renewed, first.invoices_created) == (1, 1)
    assert (second.claimed, second.renewed, second.invoices_created) == (0, 0, 0)
    assert len(shop.invoices(sub.id)) == 2


def test_a_missed_run_catches_up_one_invoice_per_period(shop: Shop) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], idempotency_key="c"
    )
    _advance_and_run(shop, _at(5, 1))  # Feb 28, Mar 31 and Apr 30 renewals were missed
    invoices = shop.invoices(sub.id)
    assert [i.lines[0].period.start.date().isoformat() for i in invoices[1:]] == [  # type: ignore[union-attr]
        "2026-02-28",
        "2026-03-31",
        "2026-04-30",
    ]
    assert shop.subscriptions.get(sub.id).current_period_end == _at(5, 31)


def test_trial_announces_its_end_three_days_before_and_converts(shop: Shop) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id,
        [{"price_id": shop.basic.id}],
        trial_period_days=14,
        default_payment_method="pm_card_visa",
        idempotency_key="t",
    )
    assert sub.trial_end is not None
    _advance_and_run(shop, sub.trial_end - timedelta(days=4))
    assert "customer.subscription.trial_will_end" not in shop.log.types()
    _advance_and_run(shop, sub.trial_end - timedelta(days=3))
    shop.subscriptions.run_billing()  # a second run announces nothing again
    assert shop.log.types().count("customer.subscription.trial_will_end") == 1
    _advance_and_run(shop, sub.trial_end)
    converted = shop.subscriptions.get(sub.id)
    assert converted.status is SubscriptionStatus.ACTIVE
    assert converted.current_period_start == sub.trial_end
    (invoice,) = shop.invoices(sub.id)
    assert (invoice.total, invoice.status) == (1000, InvoiceStatus.PAID)


@pytest.mark.parametrize(
    ("behavior", "status"),
    [("cancel", SubscriptionStatus.CANCELED), ("pause", SubscriptionStatus.PAUSED)],
)
def test_trial_without_payment_method_cancels_or_pauses(
    shop: Shop, behavior: str, status: SubscriptionStatus
) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id,
        [{"price_id": shop.basic.id}],
        trial_period_days=7,
        trial_settings={"end_behavior": {"missing_payment_method": behavior}},
        idempotency_key="t",
    )
    assert sub.trial_end is not None
    _advance_and_run(shop, sub.trial_end)
    assert shop.subscriptions.get(sub.id).status is status
    assert shop.invoices(sub.id) == []
    if status is SubscriptionStatus.PAUSED:
        shop.clock.advance(days=10)
        resumed = shop.subscriptions.resume(sub.id, idempotency_key="r")
        assert resumed.status is SubscriptionStatus.ACTIVE
        assert resumed.current_period_start == shop.clock.now()
        assert shop.invoices(sub.id)[0].total == 1000


def test_cancel_at_period_end_takes_effect_at_the_renewal(shop: Shop) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], idempotency_key="c"
    )
    shop.clock.advance(days=10)
    shop.subscriptions.cancel_at_period_end(sub.id, idempotency_key="e")
    _advance_and_run(shop, sub.current_period_end)
    ended = shop.subscriptions.get(sub.id)
    assert ended.status is SubscriptionStatus.CANCELED
    assert ended.ended_at == sub.current_period_end
    assert len(shop.invoices(sub.id)) == 1  # no renewal invoice
    _advance_and_run(shop, _at(4, 1))
    assert len(shop.invoices(sub.id)) == 1


def test_paused_collection_keeps_drafts_until_resumed(shop: Shop) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], idempotency_key="c"
    )
    shop.subscriptions.pause_collection(sub.id, behavior="keep_as_draft", idempotency_key="p")
    _advance_and_run(shop, _at(2, 28))
    assert shop.invoices(sub.id)[-1].status is InvoiceStatus.DRAFT
    shop.subscriptions.resume_collection(sub.id, idempotency_key="r")
    _advance_and_run(shop, _at(3, 31))
    assert shop.invoices(sub.id)[-1].status is InvoiceStatus.PAID


def test_paused_collection_with_resume_date_voids_then_charges_again(shop: Shop) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], idempotency_key="c"
    )
    shop.subscriptions.pause_collection(
        sub.id, behavior="void", resumes_at=_at(3, 15), idempotency_key="p"
    )
    _advance_and_run(shop, _at(2, 28))
    assert shop.invoices(sub.id)[-1].status is InvoiceStatus.VOID
    _advance_and_run(shop, _at(3, 15))
    assert shop.subscriptions.get(sub.id).pause_collection is None
    assert "customer.subscription.collection_resumed" in shop.log.types()
    _advance_and_run(shop, _at(3, 31))
    assert shop.invoices(sub.id)[-1].status is InvoiceStatus.PAID


def test_upgrade_mid_period_puts_prorations_on_the_next_invoice(shop: Shop) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], idempotency_key="c"
    )
    _advance_and_run(shop, _at(2, 28))  # period Feb 28 - Mar 31 (31 days)
    shop.clock.set(datetime(2026, 3, 16, 9, 0, tzinfo=UTC))  # 15 days left of 31
    shop.subscriptions.update_items(sub.id, [{"price_id": shop.pro.id}], idempotency_key="u")
    _advance_and_run(shop, _at(3, 31))
    latest = shop.invoices(sub.id)[-1]
    credit, charge = -round(1000 * 15 / 31), round(2000 * 15 / 31)
    assert [line.amount for line in latest.lines] == [2000, credit, charge]
    assert [line.proration for line in latest.lines] == [False, True, True]
    assert latest.total == 2000 + credit + charge
    assert shop.subscriptions.pending_items(sub.id) == []
    _advance_and_run(shop, _at(4, 30))
    assert [line.amount for line in shop.invoices(sub.id)[-1].lines] == [2000]


def test_repeating_coupon_discounts_three_months_then_stops(shop: Shop) -> None:
    coupon = shop.billing.coupons.create_coupon(
        percent_off="25", duration="repeating", duration_in_months=3, idempotency_key="cp"
    )
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], coupon=coupon.id, idempotency_key="c"
    )
    for month, day in ((2, 28), (3, 31), (4, 30), (5, 31)):
        _advance_and_run(shop, _at(month, day))
    totals = [i.total for i in shop.invoices(sub.id)]
    assert totals == [750, 750, 750, 1000, 1000]


def test_a_failed_renewal_payment_makes_the_subscription_past_due(shop: Shop) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], idempotency_key="c"
    )
    shop.subscriptions.collector = DecliningCollector()
    _advance_and_run(shop, _at(2, 28))
    past_due = shop.subscriptions.get(sub.id)
    assert past_due.status is SubscriptionStatus.PAST_DUE
    assert past_due.history[-1].cause == "payment_failed"
    assert shop.invoices(sub.id)[-1].status is InvoiceStatus.OPEN


class _FlatVat:
    """19 % on every line, from the customer's country (a stand-in engine)."""

    name = "flat_vat"

    def handles(self, request: TaxRequest) -> bool:
        return True

    def calculate(self, request: TaxRequest) -> TaxResult:
        lines = tuple(
            TaxLine(
                line_id=item.line_id,
                jurisdiction=request.customer.country,
                tax_type="vat",
                rate=Decimal("0.19"),
                taxable_amount=item.amount,
                tax_amount=(item.amount * 19 + 50) // 100,  # half-up to the cent
                reason="standard_rated",
            )
            for item in request.items
        )
        return TaxResult(engine=self.name, lines=lines)


class _VatPlugin:
    @hookimpl
    def lms_billing_tax_engines(self) -> list[object]:
        return [_FlatVat()]


def test_renewal_invoices_are_taxed_and_use_customer_credit(tmp_path: Path) -> None:
    settings = BillingSettings(
        seller=SellerDetails(name="Lernwerk", tax_profile=SellerTaxProfile(country="DE")),
        tax_engines=("flat_vat",),
    )
    clock = TestClock(JAN_31)
    billing = Billing(
        f"sqlite:///{tmp_path / 'tax.db'}",
        clock=clock,
        plugins=[_VatPlugin()],
        settings=settings,
        load_entrypoints=False,
    )
    try:
        billing.subscriptions.collector = OutOfBandCollector()
        customer = billing.customers.create(
            {"external_id": "u1", "name": "Ada", "address": {"country": "DE"}},
            idempotency_key="c",
        )
        product = billing.catalog.create_product(name="Course", idempotency_key="p")
        price = billing.catalog.create_price(
            product_id=product.id,
            currency="EUR",
            unit_amount=1000,
            recurring={"interval": "month"},
            idempotency_key="pr",
        )
        sub = billing.subscriptions.create(
            customer.id, [{"price_id": price.id}], idempotency_key="s"
        )
        with billing.storage.unit_of_work() as uow:
            uow.customer_balance.add(
                CustomerBalanceTransaction(
                    id="cbtxn_gift",
                    customer_id=customer.id,
                    currency="EUR",
                    amount=300,
                    type=BalanceTransactionType.ADJUSTMENT,
                    created_at=JAN_31,
                )
            )
            uow.commit()
        clock.set(sub.current_period_end)
        billing.subscriptions.run_billing()
        renewal = billing.invoices.list_invoices(customer_id=customer.id)[0]
        assert (renewal.tax, renewal.total, renewal.applied_balance) == (190, 1190, 300)
        assert renewal.amount_paid == 890 and renewal.status is InvoiceStatus.PAID
        assert billing.invoices.customer_balance(customer.id, "EUR").amount == 0
    finally:
        billing.close()
