"""In-memory subscription repositories (``memory://``), behaving like the SQL ones.

``claim_due`` marks each claimed subscription as held by the claiming unit of work until it
commits or rolls back (the memory twin of ``FOR UPDATE SKIP LOCKED``): another unit of work
skips held rows, so two threads sharing a run never renew the same subscription.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lms_billing.domain.customers import Customer
from lms_billing.domain.invoices import Invoice
from lms_billing.domain.subscription_records import (
    BillingRun,
    PendingInvoiceItem,
    SubscriptionRecord,
)
from lms_billing.domain.subscriptions import SubscriptionStatus
from lms_billing.errors import NotFoundError
from lms_billing.storage.base import DEFAULT_LIST_LIMIT, check_limit
from lms_billing.storage.entities import utc
from lms_billing.storage.entities_subscriptions import (
    BILLING_RUNS,
    PENDING_INVOICE_ITEMS,
    SUBSCRIPTIONS,
)
from lms_billing.storage.memory import _MemoryRepository, _Row

if TYPE_CHECKING:
    from lms_billing.storage.memory import MemoryUnitOfWork

_CLAIM_PREFIX = "subscription-claim:"  # keys in the shared in-flight table, owned per uow


class MemorySubscriptionRepository(_MemoryRepository[SubscriptionRecord]):
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        super().__init__(uow, SUBSCRIPTIONS)

    def list(
        self,
        *,
        customer_id: str | None = None,
        status: SubscriptionStatus | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[SubscriptionRecord]:
        filters = {
            "customer_id": customer_id,
            "status": None if status is None else SubscriptionStatus(status).value,
        }
        return self._list(filters, limit, starting_after)

    def claim_due(self, at: datetime, limit: int) -> builtins.list[SubscriptionRecord]:
        check_limit(limit)
        moment = utc(at)
        state = self._uow.state
        claimed: builtins.list[SubscriptionRecord] = []
        with state.lock:
            due = sorted(
                (row.columns["next_action_at"], entity_id)
                for entity_id, row in self._view().items()
                if row.columns["next_action_at"] is not None
                and row.columns["next_action_at"] <= moment
            )
            for _, entity_id in due:
                key = _CLAIM_PREFIX + entity_id
                owner = state.inflight.get(key)
                if owner is not None and owner is not self._uow:
                    continue  # another unit of work holds it: skip, like SKIP LOCKED
                state.inflight[key] = self._uow
                row = self._row(entity_id)
                if row is not None:
                    claimed.append(self._load(entity_id, row))
                if len(claimed) == limit:
                    break
        return claimed

    def update_many(self, records: Sequence[SubscriptionRecord]) -> None:
        for record in records:
            self.update(record)


class MemoryPendingItemRepository(_MemoryRepository[PendingInvoiceItem]):
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        super().__init__(uow, PENDING_INVOICE_ITEMS)
        self._deleted: set[str] = set()

    def _row(self, entity_id: str) -> _Row | None:
        return None if entity_id in self._deleted else super()._row(entity_id)

    def _view(self) -> dict[str, _Row]:
        return {k: v for k, v in super()._view().items() if k not in self._deleted}

    def for_subscriptions(
        self, subscription_ids: Sequence[str]
    ) -> dict[str, list[PendingInvoiceItem]]:
        wanted = set(subscription_ids)
        found: dict[str, list[PendingInvoiceItem]] = {}
        for entity_id, row in sorted(self._view().items()):
            owner = row.columns["subscription_id"]
            if owner in wanted:
                found.setdefault(owner, []).append(self._load(entity_id, row))
        return found

    def delete(self, item_ids: Sequence[str]) -> None:
        for item_id in item_ids:
            current = self._row(item_id)
            if current is None:
                raise NotFoundError(f"No pending invoice item {item_id!r}.", id=item_id)
            if self._expected.get(item_id, 0) is None:  # added in this unit of work
                del self._expected[item_id]
                self._pending.pop(item_id, None)
                continue
            self._pending.pop(item_id, None)
            self._expected.setdefault(item_id, self._seen.get(item_id, current.version))
            self._deleted.add(item_id)

    def _apply(self) -> None:
        super()._apply()
        committed = self._committed()
        for item_id in self._deleted:
            committed.pop(item_id, None)
        self._deleted.clear()


class MemoryBillingRunRepository(_MemoryRepository[BillingRun]):
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        super().__init__(uow, BILLING_RUNS)

    def list(
        self, *, limit: int = DEFAULT_LIST_LIMIT, starting_after: str | None = None
    ) -> list[BillingRun]:
        return self._list({}, limit, starting_after)

    def insert_invoices(self, invoices: Sequence[Invoice]) -> None:
        for invoice in invoices:
            self._uow.invoices.add(invoice)

    def reserve_numbers(self, series: str, period_key: str, count: int, *, start: int = 1) -> int:
        numbering = self._uow.numbering
        first = numbering.next(series, period_key, start=start)
        for _ in range(count - 1):
            numbering.next(series, period_key, start=start)
        return first

    def customers(self, customer_ids: Sequence[str]) -> dict[str, Customer]:
        return {customer_id: self._uow.customers.get(customer_id) for customer_id in customer_ids}

    def lock_balances(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        # The memory backend checks versions at commit instead of locking.
        balances = self._uow.customer_balance
        return {key: balances.balance(*key) for key in sorted(set(keys))}


class MemorySubscriptions:
    """The subscription repositories of one memory unit of work."""

    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self.subscriptions = MemorySubscriptionRepository(uow)
        self.pending_items = MemoryPendingItemRepository(uow)
        self.billing_runs = MemoryBillingRunRepository(uow)

    def repositories(self) -> tuple[_MemoryRepository[Any], ...]:
        """Every repository, in commit order (subscriptions before their pending items)."""
        return (self.subscriptions, self.pending_items, self.billing_runs)


__all__ = [
    "MemoryBillingRunRepository",
    "MemoryPendingItemRepository",
    "MemorySubscriptionRepository",
    "MemorySubscriptions",
]
