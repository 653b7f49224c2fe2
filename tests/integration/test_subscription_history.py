"""Every mutating subscription call takes an ``actor`` (default: the customer) and leaves a
history entry with time, cause and actor, including the changes that keep the status."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from subscription_support import Shop, shop_on

from lms_billing.domain.subscriptions import status_changes
from lms_billing.errors import IdempotencyKeyMismatchError

MARCH_1 = datetime(2026, 3, 1, tzinfo=UTC)
ADMIN = "admin:support-7"


@pytest.fixture(params=["memory", "sqlite"])
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shop]:
    yield from shop_on(request.param, tmp_path, start=MARCH_1)


def _entries(shop: Shop, subscription_id: str) -> list[tuple[str, str, datetime]]:
    return [(e.cause, e.actor, e.at) for e in shop.subscriptions.get(subscription_id).history]


def test_an_admin_is_recorded_for_every_change(shop: Shop) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], actor=ADMIN, idempotency_key="c"
    )
    day = timedelta(days=1)
    steps: list[Callable[[], object]] = [
        lambda: shop.subscriptions.cancel_at_period_end(sub.id, actor=ADMIN, idempotency_key="1"),
        lambda: shop.subscriptions.resume(sub.id, actor=ADMIN, idempotency_key="2"),
        lambda: shop.subscriptions.pause_collection(
            sub.id, behavior="void", actor=ADMIN, idempotency_key="3"
        ),
        lambda: shop.subscriptions.resume_collection(sub.id, actor=ADMIN, idempotency_key="4"),
        lambda: shop.subscriptions.update_items(
            sub.id, [{"price_id": shop.pro.id}], actor=ADMIN, idempotency_key="5"
        ),
        lambda: shop.subscriptions.cancel(sub.id, actor=ADMIN, idempotency_key="6"),
    ]
    for step in steps:
        shop.clock.advance(days=1)
        step()
    assert _entries(shop, sub.id) == [
        ("created", ADMIN, MARCH_1),
        ("first_invoice_paid", ADMIN, MARCH_1),
        ("cancel_at_period_end_scheduled", ADMIN, MARCH_1 + day),
        ("cancel_at_period_end_undone", ADMIN, MARCH_1 + 2 * day),
        ("collection_paused", ADMIN, MARCH_1 + 3 * day),
        ("collection_resumed", ADMIN, MARCH_1 + 4 * day),
        ("items_updated", ADMIN, MARCH_1 + 5 * day),
        ("requested", ADMIN, MARCH_1 + 6 * day),
    ]
    ended = shop.subscriptions.get(sub.id)
    assert [e.to_status for e in status_changes(ended)] == ["incomplete", "active", "canceled"]


def test_the_customer_is_the_default_actor(shop: Shop) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], idempotency_key="c"
    )
    shop.subscriptions.cancel_at_period_end(sub.id, idempotency_key="e")
    assert {actor for _, actor, _ in _entries(shop, sub.id)} == {shop.customer.id}


def test_the_actor_is_part_of_the_idempotent_request(shop: Shop) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], idempotency_key="c"
    )
    first = shop.subscriptions.pause_collection(
        sub.id, behavior="void", actor=ADMIN, idempotency_key="p"
    )
    assert (
        shop.subscriptions.pause_collection(
            sub.id, behavior="void", actor=ADMIN, idempotency_key="p"
        )
        == first
    )
    with pytest.raises(IdempotencyKeyMismatchError):
        shop.subscriptions.pause_collection(
            sub.id, behavior="void", actor="admin:someone-else", idempotency_key="p"
        )


def test_a_pause_that_ends_on_its_own_is_recorded_by_the_billing_run(shop: Shop) -> None:
    sub = shop.subscriptions.create(
        shop.customer.id, [{"price_id": shop.basic.id}], idempotency_key="c"
    )
    resumes = datetime(2026, 3, 10, tzinfo=UTC)
    shop.subscriptions.pause_collection(
        sub.id, behavior="void", resumes_at=resumes, idempotency_key="p"
    )
    shop.clock.set(datetime(2026, 3, 11, tzinfo=UTC))
    shop.subscriptions.run_billing()
    assert _entries(shop, sub.id)[-1] == ("collection_resumed", "system", resumes)
