"""Numbering and coupon redemption under real concurrency, on a PostgreSQL server.

Each thread has its own Billing (its own connection pool), as separate processes would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from invoicing_support import NOW, SETTINGS, make_shop

from lms_billing import Billing, TestClock
from lms_billing.domain.invoices import Invoice, InvoiceStatus
from lms_billing.errors import CouponExhaustedError
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
