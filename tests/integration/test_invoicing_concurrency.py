"""Numbering and coupon redemption under real concurrency, on a PostgreSQL server.

Each thread has its own Billing (its own connection pool), as separate processes would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from invoicing_support import NOW, SETTINGS, Shop, make_shop

from lms_billing import Billing, TestClock
from lms_billing.domain.invoices import Invoice, InvoiceStatus
from lms_billing.domain.redemptions import CouponRedemption
from lms_billing.errors import CouponExhaustedError, CouponNotApplicableError
from lms_billing.storage.sqlalchemy.repositories_invoicing import SqlInvoiceRepository

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

THREADS = 8
DRAFTS = 40
T = TypeVar("T")


def connect(url: str) -> Billing:
    return Billing(
        url, clock=TestClock(NOW), settings=SETTINGS, load_entrypoints=False, auto_migrate=False
    )


@pytest.fixture
def url(postgres_url: str) -> Iterator[str]:
    with Billing(postgres_url, load_entrypoints=False):  # migrates the schema
        pass
    yield postgres_url


def in_threads(count: int, work: Callable[[int, Billing], T], url: str) -> list[T | Exception]:
    """Run ``work(index, billing)`` in ``count`` threads released together by a barrier."""
    barrier = threading.Barrier(count)

    def run(index: int) -> T | Exception:
        with connect(url) as billing:
            barrier.wait()
            try:
                return work(index, billing)
            except Exception as exc:  # returned, so the test can assert on every outcome
                return exc

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_concurrent_finalizations_number_1_to_n_without_gaps_or_duplicates(url: str) -> None:
    with connect(url) as billing:
        shop = make_shop(billing)
        customers = [shop.customer.id] + [
            billing.customers.create({"external_id": f"org-{n}"}, idempotency_key=f"c{n}").id
            for n in range(1, THREADS)
        ]
        drafts: list[Invoice] = []
        for n in range(DRAFTS):
            draft = billing.invoices.create_draft(
                customers[n % THREADS], "USD", idempotency_key=f"d{n}"
            )
            drafts.append(
                billing.invoices.add_price_line(draft.id, shop.course.id, idempotency_key=f"l{n}")
            )

    def finalize_share(index: int, billing: Billing) -> list[str]:
        mine = drafts[index::THREADS]
        return [
            str(billing.invoices.finalize(d.id, idempotency_key=f"f-{d.id}").number) for d in mine
        ]

    results = in_threads(THREADS, finalize_share, url)
    numbers = [n for result in results for n in _ok(result)]
    assert sorted(numbers) == [f"INV-2026-{n:06d}" for n in range(1, DRAFTS + 1)]
    with connect(url) as billing:
        stored = billing.invoices.list_invoices(status=InvoiceStatus.OPEN)
        assert sorted(str(i.number) for i in stored) == sorted(numbers)
        with billing.storage.unit_of_work() as uow:
            assert uow.numbering.current("invoice", "2026") == DRAFTS


def _ok(result: T | Exception) -> T:
    if isinstance(result, Exception):
        raise result
    return result


def test_two_threads_racing_for_the_last_redemption(url: str) -> None:
    with connect(url) as billing:
        shop = make_shop(billing)
        billing.coupons.create_promotion_code(
            coupon_id=shop.coupon_id, code="LAST1", max_redemptions=1, idempotency_key="last"
        )
        drafts = []
        for n in range(2):
            draft = billing.invoices.create_draft(shop.customer.id, "USD", idempotency_key=f"d{n}")
            billing.invoices.add_price_line(draft.id, shop.course.id, idempotency_key=f"l{n}")
            drafts.append(draft.id)

    def redeem(index: int, billing: Billing) -> Invoice:
        return billing.invoices.apply_promotion_code(
            drafts[index], "last1", idempotency_key=f"r{index}"
        )

    results = in_threads(2, redeem, url)
    winners = [r for r in results if isinstance(r, Invoice)]
    losers = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 1 and winners[0].total_discount == 980
    assert len(losers) == 1 and isinstance(losers[0], CouponExhaustedError)
    with connect(url) as billing:
        assert billing.coupons.find_promotion_code("LAST1").times_redeemed == 1
        loser_id = next(d for d in drafts if d != winners[0].id)
        assert billing.invoices.get_invoice(loser_id).coupons == ()


def test_conditional_update_decides_a_race_the_checks_missed(url: str) -> None:
    """Both redeemers read "0 of 1 used"; the row lock makes the second one lose."""
    with connect(url) as billing:
        shop = make_shop(billing)
        code = billing.coupons.create_promotion_code(
            coupon_id=shop.coupon_id, code="LAST2", max_redemptions=1, idempotency_key="last"
        )
        storage = billing.storage
        outcome: dict[str, Any] = {}
        first_redeemed = threading.Event()

        def second() -> None:
            with storage.unit_of_work() as uow:
                assert uow.promotion_codes.get(code.id).times_redeemed == 0  # looks free
                first_redeemed.wait(timeout=30)
                try:
                    uow.promotion_codes.redeem(code.id)  # waits for the first transaction
                    outcome["second"] = "redeemed"
                except CouponExhaustedError:
                    outcome["second"] = "exhausted"

        with storage.unit_of_work() as uow:
            thread = threading.Thread(target=second)
            thread.start()
            uow.promotion_codes.redeem(code.id)
            first_redeemed.set()
            thread.join(timeout=0.5)
            assert thread.is_alive()  # blocked on the row lock held by this transaction
            uow.commit()
        thread.join(timeout=30)
        assert outcome == {"second": "exhausted"}
        assert billing.coupons.get_promotion_code(code.id).times_redeemed == 1


def test_failed_finalization_returns_its_number(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with connect(url) as billing:
        shop = make_shop(billing)
        drafts = []
        for n in range(3):
            draft = billing.invoices.create_draft(shop.customer.id, "USD", idempotency_key=f"d{n}")
            billing.invoices.add_price_line(draft.id, shop.course.id, idempotency_key=f"l{n}")
            drafts.append(draft.id)

        original = SqlInvoiceRepository.update

        def crash_on_open(self: SqlInvoiceRepository, entity: Invoice, **kw: Any) -> int:
            if entity.status is InvoiceStatus.OPEN:
                raise RuntimeError("disk full")  # after the number was drawn
            return original(self, entity, **kw)

        monkeypatch.setattr(SqlInvoiceRepository, "update", crash_on_open)
        with pytest.raises(RuntimeError):
            billing.invoices.finalize(drafts[0], idempotency_key="f0")
        with billing.storage.unit_of_work() as uow:
            assert uow.numbering.current("invoice", "2026") is None
        monkeypatch.setattr(SqlInvoiceRepository, "update", original)

        numbers = [
            billing.invoices.finalize(d, idempotency_key=f"f-{d}").number for d in drafts[1:]
        ]
        # The key of the failed call was released: retrying it runs again.
        numbers.append(billing.invoices.finalize(drafts[0], idempotency_key="f0").number)
    assert numbers == ["INV-2026-000001", "INV-2026-000002", "INV-2026-000003"]


def _drafts_for_one_customer(billing: Billing, shop: Shop, count: int) -> list[str]:
    drafts = []
    for n in range(count):
        draft = billing.invoices.create_draft(shop.customer.id, "USD", idempotency_key=f"d{n}")
        billing.invoices.add_price_line(draft.id, shop.course.id, idempotency_key=f"l{n}")
        drafts.append(draft.id)
    return drafts


def test_per_customer_limit_holds_under_concurrent_redemptions(url: str) -> None:
    """One customer, four drafts, a once-per-customer coupon applied to all four at once."""
    with connect(url) as billing:
        shop = make_shop(billing)
        once = billing.coupons.create_coupon(
            percent_off="10", max_redemptions_per_customer=1, idempotency_key="once"
        )
        drafts = _drafts_for_one_customer(billing, shop, THREADS)

    def redeem(index: int, billing: Billing) -> Invoice:
        return billing.invoices.apply_coupon(drafts[index], once.id, idempotency_key=f"r{index}")

    results = in_threads(THREADS, redeem, url)
    winners = [r for r in results if isinstance(r, Invoice)]
    losers = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 1
    assert len(losers) == THREADS - 1
    assert all(isinstance(e, CouponExhaustedError) for e in losers), losers
    assert {e.details.get("reason") for e in losers} == {"per_customer"}
    with connect(url) as billing:
        assert billing.coupons.get_coupon(once.id).times_redeemed == 1
        discounted = [d for d in drafts if billing.invoices.get_invoice(d).coupons]
        assert discounted == [winners[0].id]
        with billing.storage.unit_of_work() as uow:
            assert uow.coupons.redemption_count(once.id, shop.customer.id) == 1


def test_first_purchase_coupons_are_used_on_one_purchase_only(url: str) -> None:
    """Four drafts of a new customer each get a (different) first-purchase-only coupon at the
    same moment: the first purchase is one order, so exactly one redemption is accepted."""
    with connect(url) as billing:
        shop = make_shop(billing)
        welcome = [
            billing.coupons.create_coupon(
                percent_off="15", first_time_transaction=True, idempotency_key=f"welcome{n}"
            ).id
            for n in range(THREADS)
        ]
        drafts = _drafts_for_one_customer(billing, shop, THREADS)

    def redeem(index: int, billing: Billing) -> Invoice:
        return billing.invoices.apply_coupon(
            drafts[index], welcome[index], idempotency_key=f"r{index}"
        )

    results = in_threads(THREADS, redeem, url)
    winners = [r for r in results if isinstance(r, Invoice)]
    losers = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 1 and len(losers) == THREADS - 1
    assert all(isinstance(e, CouponNotApplicableError) for e in losers), losers
    assert {e.details.get("reason") for e in losers} == {"first_time_transaction"}
    with connect(url) as billing:
        used = [c for c in welcome if billing.coupons.get_coupon(c).times_redeemed]
        assert len(used) == 1
        with billing.storage.unit_of_work() as uow:
            (redemption,) = uow.coupons.customer_redemptions(shop.customer.id)
        assert redemption.first_time_transaction and redemption.invoice_id == winners[0].id


def test_a_redemption_waits_for_the_customers_lock(url: str) -> None:
    """The second redeemer of the same customer blocks on the lock the first one holds, and
    once the first commits it sees that redemption (no read-then-insert race)."""
    with connect(url) as billing:
        shop = make_shop(billing)
        storage = billing.storage
        first_locked = threading.Event()
        seen: dict[str, Any] = {}

        def second() -> None:
            with storage.unit_of_work() as uow:
                first_locked.wait(timeout=30)
                uow.coupons.lock_customer(shop.customer.id)  # waits for the first
                seen["count"] = uow.coupons.redemption_count(shop.coupon_id, shop.customer.id)

        with storage.unit_of_work() as uow:
            uow.coupons.lock_customer(shop.customer.id)
            thread = threading.Thread(target=second)
            thread.start()
            first_locked.set()
            thread.join(timeout=0.5)
            assert thread.is_alive()  # blocked on this transaction's lock
            uow.coupons.record_redemption(
                CouponRedemption(
                    id="redm_first",
                    coupon_id=shop.coupon_id,
                    customer_id=shop.customer.id,
                    created_at=NOW,
                )
            )
            uow.commit()
        thread.join(timeout=30)
        assert seen == {"count": 1}
