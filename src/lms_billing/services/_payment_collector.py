"""The billing run's collector for gateway payments (see
:mod:`lms_billing.services.dunning_collection`, which re-exports it)."""

from __future__ import annotations

import threading
from datetime import datetime

from lms_billing.domain.invoices import Invoice
from lms_billing.domain.subscriptions import Subscription
from lms_billing.services.collection import CollectionOutcome, CollectionResult


class GatewayCollector:
    """The billing run's collector for gateway payments: charges nothing inside the batch.

    ``collect`` leaves the invoice ``open`` (``pending``) and remembers its id;
    :func:`collect_due` charges remembered invoices first, then finds any others (after a
    restart) among open subscription invoices. Install it with
    ``billing.subscriptions.collector = GatewayCollector()``.
    """

    def __init__(self, max_queued: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._queued: list[str] = []
        # Bounded: ids beyond it are still found by collect_due's scan of open invoices.
        self._max_queued = max_queued

    def collect(
        self, invoice: Invoice, subscription: Subscription, now: datetime
    ) -> CollectionResult:
        with self._lock:
            if len(self._queued) < self._max_queued:
                self._queued.append(invoice.id)
        return CollectionResult(invoice, CollectionOutcome.PENDING)

    def drain(self) -> list[str]:
        """The invoice ids noted since the last call (and forget them)."""
        with self._lock:
            queued, self._queued = self._queued, []
        return queued


__all__ = ["GatewayCollector"]
