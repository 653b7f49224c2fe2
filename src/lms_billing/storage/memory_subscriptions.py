"""In-memory subscription repositories (``memory://``), behaving like the SQL ones.

``claim_due`` marks each claimed subscription as held by the claiming unit of work until it
commits or rolls back (the memory twin of ``FOR UPDATE SKIP LOCKED``): another unit of work
skips held rows, so two threads sharing a run never renew the same subscription.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lms_billing.domain.customers import Customer
from lms_billing.domain.invoices import Invoice
from lms_billing.domain.subscription_records import (
    BillingRun,
    PendingInvoiceItem,
    SubscriptionRecord,
)
from lms_billing.storage.base import check_limit
from lms_billing.storage.entities import utc
from lms_billing.storage.entities_subscriptions import (
    BILLING_RUNS,
    PENDING_INVOICE_ITEMS,
    SUBSCRIPTIONS,
)
from lms_billing.storage.memory import _Deletable, _MemoryRepository
from lms_billing.storage.queries import PlainListQueries, SubscriptionQueries

if TYPE_CHECKING:
    from lms_billing.storage.memory import MemoryUnitOfWork

_CLAIM_PREFIX = "subscription-claim:"  # keys in the shared in-flight table, owned per uow


class MemorySubscriptionRepository(_MemoryRepository[SubscriptionRecord], SubscriptionQueries):
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        super().__init__(uow, SUBSCRIPTIONS)

    def claim_due(
        self, at: datetime, limit: int, *, exclude: Collection[str] = ()
    ) -> builtins.list[SubscriptionRecord]:
        check_limit(limit)
        moment = utc(at)
        left_out = frozenset(exclude)
        state = self._uow.state
        claimed: builtins.list[SubscriptionRecord] = []
        with state.lock:
            due = sorted(
                (row.columns["next_action_at"], entity_id)
                for entity_id, row in self._view().items()
                if row.columns["next_action_at"] is not None
                and row.columns["next_action_at"] <= moment
                and entity_id not in left_out
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


class MemoryPendingItemRepository(_Deletable[PendingInvoiceItem]):
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        super().__init__(uow, PENDING_INVOICE_ITEMS)

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
            self._delete(item_id)


class MemoryBillingRunRepository(_MemoryRepository[BillingRun], PlainListQueries[BillingRun]):
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        super().__init__(uow, BILLING_RUNS)

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
