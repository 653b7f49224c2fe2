"""Collecting subscription invoices: the :class:`Collector` port the billing run calls.

A collector attempts payment of a finalized (``open``) invoice and says what happened. The
default :class:`NoopCollector` leaves invoices open (nothing is charged until the payments
issue plugs in a gateway-backed collector); :class:`OutOfBandCollector` marks every invoice
paid, for demos, tests and customers who pay by other means. Whatever a collector reports as
paid gets a numbered receipt, written in the same transaction as the invoice.

Collectors run inside the billing batch's transaction: keep them fast (or enqueue the
charge) and idempotent per invoice id.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import NamedTuple, Protocol, runtime_checkable

from lms_billing.domain.invoices import Invoice, mark_paid
from lms_billing.domain.subscriptions import Subscription


class CollectionOutcome(StrEnum):
    PAID = "paid"  # the invoice is paid
    FAILED = "failed"  # a payment attempt failed: the subscription becomes past_due
    PENDING = "pending"  # nothing decided yet (no attempt, or an asynchronous one)


class CollectionResult(NamedTuple):
    """The invoice after the attempt and what happened. When the attempt took money (the
    invoice's ``amount_paid`` grew), the billing run issues a receipt for it, naming
    ``payment_reference`` (the gateway payment id; a reference built from the invoice id when
    the collector gives none) and ``payment_method`` (e.g. ``"Visa •••• 4242"``)."""

    invoice: Invoice
    outcome: CollectionOutcome
    payment_reference: str | None = None
    payment_method: str | None = None


@runtime_checkable
class Collector(Protocol):
    """Attempts payment of an ``open`` subscription invoice."""

    def collect(
        self, invoice: Invoice, subscription: Subscription, now: datetime
    ) -> CollectionResult: ...


class NoopCollector:
    """Attempts nothing: invoices stay ``open`` and subscriptions keep their status."""

    def collect(
        self, invoice: Invoice, subscription: Subscription, now: datetime
    ) -> CollectionResult:
        return CollectionResult(invoice, CollectionOutcome.PENDING)


class OutOfBandCollector:
    """Marks each invoice paid out of band (bank transfer, demo, tests)."""

    def collect(
        self, invoice: Invoice, subscription: Subscription, now: datetime
    ) -> CollectionResult:
        paid = mark_paid(invoice, invoice.amount_remaining, now, paid_out_of_band=True)
        return CollectionResult(
            paid, CollectionOutcome.PAID, payment_reference=f"out_of_band_{invoice.id}"
        )


__all__ = [
    "CollectionOutcome",
    "CollectionResult",
    "Collector",
    "NoopCollector",
    "OutOfBandCollector",
]
