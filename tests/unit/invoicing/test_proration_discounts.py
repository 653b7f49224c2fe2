"""Coupons on invoices that carry proration lines (audit S1).

The property: with any coupon on the subscription, prorating a change and its reverse at
the same instant nets to zero on the resulting invoice. The pending proration lines of the
change and of its reverse cancel exactly (see tests/unit/subscriptions), and a coupon must
not turn them into money: percent coupons discount credits like charges, rounded once on
the signed net; fixed amounts are capped by the net of their lines.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from lms_billing.domain.billing_cycle import BillingPeriod, add_interval
from lms_billing.domain.coupons import Coupon, CouponDuration, start_discount
from lms_billing.domain.discounts import DiscountOrder
from lms_billing.domain.invoices import Invoice, InvoiceLine, apply_coupons
from lms_billing.domain.proration import ProrationItem, proration_items
from lms_billing.domain.renewal import plan_renewal
from lms_billing.domain.subscription_changes import update_items
from lms_billing.domain.subscriptions import SubscriptionItem, activate, create_subscription
from lms_billing.money import RoundingMode

START = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)
PRODUCTS = ("prod_basic", "prod_pro")


def item(
    price: str, unit_amount: int, quantity: int = 1, product: str = "prod_basic"
) -> SubscriptionItem:
    return SubscriptionItem(
        id="si_1",
        price_id=price,
        product_id=product,
        quantity=quantity,
        unit_amount=unit_amount,
        currency="USD",
        interval="month",
        interval_count=1,
    )


def invoice_of(lines: list[InvoiceLine], order: DiscountOrder) -> Invoice:
    return Invoice(
        id="in_1",
        customer_id="cus_1",
        currency="USD",
        created_at=START,
        lines=tuple(lines),
        discount_order=order,
    )


def proration_line(index: int, proration: ProrationItem, product: str | None) -> InvoiceLine:
    return InvoiceLine(
        id=f"p{index}",
        description=proration.description,
        amount=proration.amount,
        quantity=proration.quantity,
        proration=True,
        price_id=proration.price_id,
        product_id=product,
    )


percents = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(100), places=2)
restrictions = st.sampled_from([(), ("prod_basic",), ("prod_pro",)])


@st.composite
def coupons(draw: st.DrawFn, restricted: bool = True) -> Coupon:
    applies = draw(restrictions) if restricted else ()
    if draw(st.booleans()):
        return Coupon(
            id=f"pct{draw(st.integers(0, 99))}",
            percent_off=draw(percents),
            applies_to_product_ids=applies,
        )
    return Coupon(
        id=f"off{draw(st.integers(0, 99))}",
        amount_off={"USD": draw(st.integers(min_value=1, max_value=500_000))},
        applies_to_product_ids=applies,
    )


@st.composite
def change(draw: st.DrawFn) -> tuple[BillingPeriod, datetime, SubscriptionItem, SubscriptionItem]:
    start = draw(
        st.datetimes(
            min_value=datetime(2024, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)
        )
    ).replace(microsecond=0)
    period = BillingPeriod(start=start, end=add_interval(start, "month", 1, 1))
    at = start + timedelta(seconds=draw(st.integers(min_value=0, max_value=period.seconds)))
    amounts = st.integers(min_value=0, max_value=1_000_000)
    old = item(
        "price_old", draw(amounts), draw(st.integers(1, 50)), draw(st.sampled_from(PRODUCTS))
    )
    new = item(
        "price_new", draw(amounts), draw(st.integers(1, 50)), draw(st.sampled_from(PRODUCTS))
    )
    return period, at, old, new


def lines_with_and_without_the_pair(
    period: BillingPeriod,
    at: datetime,
    old: SubscriptionItem,
    new: SubscriptionItem,
    mode: RoundingMode,
) -> tuple[list[InvoiceLine], list[InvoiceLine]]:
    base = [
        InvoiceLine(
            id="base",
            description="Next period",
            amount=old.amount,
            quantity=old.quantity,
            price_id=old.price_id,
            product_id=old.product_id,
        )
    ]
    products = {old.price_id: old.product_id, new.price_id: new.product_id}
    pair = [
        *proration_items([old], [new], period, at, mode),
        *proration_items([new], [old], period, at, mode),
    ]
    assert sum(p.amount for p in pair) == 0  # the proration property this one builds on
    extra = [proration_line(i, p, products[p.price_id]) for i, p in enumerate(pair)]
    return base, base + extra


@settings(max_examples=300, deadline=None)
@given(
    when=change(),
    coupon=coupons(),
    order=st.sampled_from(list(DiscountOrder)),
    mode=st.sampled_from(list(RoundingMode)),
)
def test_a_change_and_its_reverse_net_to_zero_with_any_coupon(
    when: tuple[BillingPeriod, datetime, SubscriptionItem, SubscriptionItem],
    coupon: Coupon,
    order: DiscountOrder,
    mode: RoundingMode,
) -> None:
    base, with_pair = lines_with_and_without_the_pair(*when, mode)
    without = apply_coupons(invoice_of(base, order), [coupon])
    paired = apply_coupons(invoice_of(with_pair, order), [coupon])
    assert paired.total_discount == without.total_discount
    assert paired.total == without.total


@settings(max_examples=200, deadline=None)
@given(
    when=change(),
    stack=st.lists(coupons(restricted=False), min_size=2, max_size=4, unique_by=lambda c: c.id),
    order=st.sampled_from(list(DiscountOrder)),
)
def test_stacked_coupons_on_the_same_lines_net_to_zero_too(
    when: tuple[BillingPeriod, datetime, SubscriptionItem, SubscriptionItem],
    stack: list[Coupon],
    order: DiscountOrder,
) -> None:
    base, with_pair = lines_with_and_without_the_pair(*when, RoundingMode.HALF_UP)
    without = apply_coupons(invoice_of(base, order), stack)
    paired = apply_coupons(invoice_of(with_pair, order), stack)
    assert paired.total == without.total


@settings(max_examples=100, deadline=None)
@given(
    old_amount=st.integers(min_value=1, max_value=100_000),
    new_amount=st.integers(min_value=1, max_value=100_000),
    seconds=st.integers(min_value=1, max_value=27 * 86_400),
    coupon=coupons(restricted=False),
)
def test_the_renewal_after_a_change_and_its_reverse_bills_the_plain_renewal(
    old_amount: int, new_amount: int, seconds: int, coupon: Coupon
) -> None:
    """End to end through the renewal planner: the audit's 33 % coupon billed 0 instead of
    670 after an upgrade and its reverse; now the renewal is the renewal without them."""
    sub = create_subscription(
        id="sub_1", customer_id="cus_1", items=[item("price_old", old_amount)], at=START
    )
    sub = activate(sub, at=START, actor="cus_1")
    forever = coupon.model_copy(update={"duration": CouponDuration.FOREVER})
    discounts = [start_discount("di_1", forever, START)]
    at = START + timedelta(seconds=seconds)
    up = update_items(sub, [item("price_new", new_amount)], at=at)
    down = update_items(up.subscription, [item("price_old", old_amount)], at=at)
    pending = (*up.proration_items, *down.proration_items)
    assert sum(p.amount for p in pending) == 0

    due = sub.current_period_end
    plain = plan_renewal(sub, due, discounts=discounts).invoice
    changed = plan_renewal(
        down.subscription, due, pending_items=pending, discounts=discounts
    ).invoice
    assert plain is not None and changed is not None
    assert (changed.total, changed.discount_total) == (plain.total, plain.discount_total)
    assert sum(line.discount_amount for line in changed.lines) == changed.discount_total


def test_the_audits_33_percent_case() -> None:
    """Upgrade then reverse at the same instant with a 33 % coupon: the renewal is 670."""
    sub = activate(
        create_subscription(id="s", customer_id="c", items=[item("basic", 1000)], at=START),
        at=START,
        actor="c",
    )
    third = Coupon(id="third", percent_off=Decimal(33), duration=CouponDuration.FOREVER)
    discounts = [start_discount("di", third, START)]
    at = START + timedelta(days=14)
    up = update_items(sub, [item("pro", 3000)], at=at)
    down = update_items(up.subscription, [item("basic", 1000)], at=at)
    plan = plan_renewal(
        down.subscription,
        sub.current_period_end,
        pending_items=(*up.proration_items, *down.proration_items),
        discounts=discounts,
    )
    assert plan.invoice is not None and plan.invoice.total == 670
