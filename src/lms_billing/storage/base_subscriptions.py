"""Repositories for subscriptions, pending invoice items and billing runs
(see :mod:`lms_billing.storage.base`).

:meth:`SubscriptionRepository.claim_due` is how a billing run shares work: it returns (and,
on PostgreSQL, row-locks with ``FOR UPDATE SKIP LOCKED``) the subscriptions whose
``next_action_at`` has come, oldest first. Locked rows are skipped, so several workers each
claim a different batch; the locks last until the unit of work ends. SQLite's ``BEGIN
IMMEDIATE`` already serialises writers, and the memory backend checks versions at commit.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from lms_billing.domain.customers import Customer
from lms_billing.domain.invoices import Invoice
from lms_billing.domain.subscription_records import (
    BillingRun,
    PendingInvoiceItem,
    SubscriptionRecord,
)
from lms_billing.domain.subscriptions import SubscriptionStatus
from lms_billing.storage.base import DEFAULT_LIST_LIMIT, Repository


class SubscriptionRepository(Repository[SubscriptionRecord], Protocol):
    def list(
        self,
        *,
        customer_id: str | None = None,
        status: SubscriptionStatus | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[SubscriptionRecord]: ...

    def claim_due(
        self, at: datetime, limit: int, *, exclude: Collection[str] = ()
    ) -> builtins.list[SubscriptionRecord]:
        """Up to ``limit`` records with ``next_action_at <= at``, earliest first, locked for
        this unit of work (rows other workers hold are skipped), leaving out the ids in
        ``exclude`` (a billing run's stuck subscriptions; normally empty)."""
        ...

    def update_many(self, records: Sequence[SubscriptionRecord]) -> None:
        """Save many records read by this unit of work in one statement (a billing batch);
        :class:`~lms_billing.errors.StaleVersionError` when any changed meanwhile."""
        ...


class PendingItemRepository(Protocol):
    def add(self, item: PendingInvoiceItem) -> None: ...

    def for_subscriptions(
        self, subscription_ids: Sequence[str]
    ) -> dict[str, list[PendingInvoiceItem]]:
        """The pending items of each subscription (oldest first); absent ids have none."""
        ...

    def delete(self, item_ids: Sequence[str]) -> None:
        """Remove items an invoice consumed."""
        ...


class BillingRunRepository(Protocol):
    def add(self, run: BillingRun) -> None: ...

    def get(self, run_id: str) -> BillingRun: ...

    def update(self, run: BillingRun, *, expected_version: int | None = None) -> int: ...

    def list(
        self, *, limit: int = DEFAULT_LIST_LIMIT, starting_after: str | None = None
    ) -> list[BillingRun]: ...

    def insert_invoices(self, invoices: Sequence[Invoice]) -> None:
        """Insert a batch's new invoices in one round trip (SQL ``executemany``)."""
        ...

    def reserve_numbers(self, series: str, period_key: str, count: int, *, start: int = 1) -> int:
        """Reserve ``count`` consecutive numbers of ``(series, period_key)`` on the counter
        :meth:`NumberingRepository.next` uses; returns the first. One statement, the
        counter row locked until the unit of work ends (gap-free, as ``next``)."""
        ...

    def customers(self, customer_ids: Sequence[str]) -> dict[str, Customer]:
        """The batch's customers in one query; :class:`NotFoundError` if any is missing."""
        ...

    def lock_balances(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """Lock the credit balances of ``(customer_id, currency)`` pairs for this unit of work
        (in sorted order, before any invoice number is drawn, so batches and single
        finalizations cannot deadlock) and return them (absent pairs are 0)."""
        ...


__all__ = ["BillingRunRepository", "PendingItemRepository", "SubscriptionRepository"]
