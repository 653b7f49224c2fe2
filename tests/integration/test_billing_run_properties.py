"""Billing runs, however they are scheduled, invoice every period of every subscription
exactly once: periods follow each other without gap or overlap, a run repeated at the same
instant bills nothing, and invoice numbers stay unique and gap-free.

Hypothesis draws the subscriptions (interval and count, start time including month ends,
trials, anniversary or calendar billing, a cancellation at period end scheduled between two
runs) and the run schedule (runs hours or weeks apart, so some runs catch up several
periods, and batch sizes that split the due subscriptions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from subscription_support import make_shop

from lms_billing.domain.invoices import Invoice

BASE = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)  # a month end: Feb 28, Mar 31, ...


@dataclass(frozen=True)
class Plan:
    interval: str
    count: int
    start_hours: int  # after BASE
    trial_days: int
    calendar: bool
    cancel_after_run: int | None  # schedule cancel_at_period_end after this run (index)


plans = st.builds(
    Plan,
    interval=st.sampled_from(["day", "week", "month", "year"]),
    count=st.integers(min_value=1, max_value=3),
    start_hours=st.integers(min_value=0, max_value=24 * 35),
    trial_days=st.sampled_from([0, 0, 3, 14]),
    calendar=st.booleans(),
    cancel_after_run=st.none() | st.integers(min_value=0, max_value=7),
)
schedules = st.lists(
    st.integers(min_value=1, max_value=24 * 45), min_size=1, max_size=8
)  # hours between runs


def _periods(invoices: list[Invoice]) -> list[tuple[datetime, datetime]]:
    spans = []
    for invoice in invoices:
        (line,) = invoice.lines  # one item, no prorations in these scenarios
        assert line.period is not None
        # Dated at its period's start, even when a late run catches the period up.
        assert invoice.created_at == line.period.start
        spans.append((line.period.start, line.period.end))
    return sorted(spans)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    subscriptions=st.lists(plans, min_size=1, max_size=4),
    gaps=schedules,
    batch_size=st.integers(min_value=1, max_value=3),
)
def test_every_period_is_invoiced_exactly_once_however_runs_are_scheduled(
    subscriptions: list[Plan], gaps: list[int], batch_size: int
) -> None:
    shop = make_shop("memory://", start=BASE)
    created: list[tuple[str, Plan]] = []
    for n, plan in enumerate(sorted(subscriptions, key=lambda p: p.start_hours)):
        shop.clock.set(BASE + timedelta(hours=plan.start_hours))
        price = shop.billing.catalog.create_price(
            product_id=shop.basic.product_id,
            currency="USD",
            unit_amount=1000 + n,
            recurring={"interval": plan.interval, "interval_count": plan.count},
            idempotency_key=f"price-{n}",
        )
        sub = shop.subscriptions.create(
            shop.customer.id,
            [{"price_id": price.id}],
            trial_period_days=plan.trial_days or None,
            billing_mode="calendar" if plan.calendar else "anniversary",
            idempotency_key=f"sub-{n}",
        )
        created.append((sub.id, plan))

    at = shop.clock.now()
    for index, gap in enumerate(gaps):
        at += timedelta(hours=gap)
        shop.clock.set(at)
        shop.subscriptions.run_billing(at, batch_size=batch_size)
        again = shop.subscriptions.run_billing(at, batch_size=batch_size)
        assert (again.invoices_created, again.renewed, again.trials_converted) == (0, 0, 0)
        for sub_id, plan in created:
            live = shop.subscriptions.get(sub_id).status in ("active", "trialing")
            if plan.cancel_after_run == index and live:
                shop.subscriptions.cancel_at_period_end(sub_id, idempotency_key=f"c-{sub_id}")

    for sub_id, plan in created:
        sub = shop.subscriptions.get(sub_id)
        spans = _periods(shop.invoices(sub_id))
        if plan.trial_days:
            assert sub.trial_end is not None
            if sub.trial_end > at:  # still trialing after the last run: nothing invoiced
                assert spans == [] and sub.status == "trialing"
                continue
            if sub.status == "canceled" and sub.ended_at == sub.trial_end:
                assert spans == []  # canceled during the trial: ends with it, unbilled
                continue
            first_start = sub.trial_end
        else:
            first_start = sub.start_date
        assert spans and spans[0][0] == first_start
        for (_, end), (start, _) in pairwise(spans):
            assert start == end, "periods follow each other without gap or overlap"
        # The last invoiced period is the current one (a canceled subscription's last).
        assert spans[-1] == (sub.current_period_start, sub.current_period_end)
        if sub.status == "canceled":  # at the end of the period it was scheduled in
            assert sub.ended_at == sub.current_period_end <= at
        else:  # not due any more
            assert sub.current_period_start <= at < sub.current_period_end

    numbers = [i.number for i in shop.invoices() if i.number is not None]
    assert len(numbers) == len(set(numbers))
    per_year: dict[str, list[int]] = {}
    for number in numbers:  # INV-2026-000001: the series restarts every year
        _, year, sequence = number.split("-")
        per_year.setdefault(year, []).append(int(sequence))
    for sequences in per_year.values():
        assert sorted(sequences) == list(range(1, len(sequences) + 1)), "gap-free"
