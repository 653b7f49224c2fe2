"""Immediate cancellation through storage: what the current period billed, credit notes
for its unused time, and refunds of those credits after the commit. Private.

* :func:`period_billing` reads the invoice lines that billed the current period (open, paid
  or uncollectible invoices; drafts and void ones billed nothing) with what earlier credit
  notes left creditable on each.
* :func:`credit_unused_time` issues one credit note per invoice for the parts computed by
  :func:`lms_billing.domain.cancellation.unused_time_credits`. The credit note decides where
  the money goes, as Stripe does: on an unpaid invoice it only lowers the amount due (an
  unpaid period is never credited to the balance or refunded); on a paid one it goes to the
  customer's credit balance, or with ``refund`` is recorded as ``refund_amount`` (up to what
  the invoice's succeeded payments can still refund; the rest goes to the balance). A paid
  invoice whose total is below its unused share (it also carried credits of an earlier
  period) is credited in full and the rest goes to the balance as an adjustment.
* :func:`refund_cancellation_notes` moves those refunds through a :class:`Refunder` (the
  payments service) once the cancellation has committed. It is safe to call again: money
  already refunded against a note is never refunded twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from lms_billing.domain.cancellation import BilledLine, LineCredit
from lms_billing.domain.credit_notes import (
    CreditLineRequest,
    CreditNote,
    CreditNoteReason,
    CreditNoteRequest,
    CreditNoteStatus,
    issue_credit_note,
)
from lms_billing.domain.invoices import Invoice, InvoiceStatus
from lms_billing.domain.payments import PaymentStatus, RefundReason, RefundStatus
from lms_billing.domain.subscription_changes import Cancellation, cancel
from lms_billing.domain.subscriptions import Subscription
from lms_billing.errors import CreditExceedsInvoiceError
from lms_billing.ids import new_id
from lms_billing.services._context import PendingEvents
from lms_billing.services._invoicing_support import record_balance, store_credit_note
from lms_billing.settings import BillingSettings
from lms_billing.storage.base import MAX_LIST_LIMIT, Storage, UnitOfWork, every

_BILLED = frozenset({InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE})
_HOLDS_MONEY = frozenset(
    {RefundStatus.SUCCEEDED, RefundStatus.PENDING, RefundStatus.REQUIRES_ACTION}
)


class Refunder(Protocol):
    """Refunds a payment against a credit note (``PaymentService.refund`` fits)."""

    def refund(
        self,
        payment_id: str,
        amount: int | None = None,
        *,
        idempotency_key: str,
        credit_note_id: str | None = None,
        reason: str | None = None,
    ) -> object: ...


def cancellation_memo(subscription_id: str) -> str:
    """The memo that marks the credit notes of a subscription's cancellation."""
    return f"Unused time after canceling subscription {subscription_id}"


@dataclass
class PeriodBilling:
    """The current period's billed invoices, their earlier credit notes, and the lines."""

    invoices: dict[str, Invoice] = field(default_factory=dict)
    notes: dict[str, list[CreditNote]] = field(default_factory=dict)
    lines: list[BilledLine] = field(default_factory=list)


def _issued(notes: Sequence[CreditNote]) -> list[CreditNote]:
    return [n for n in notes if n.status is CreditNoteStatus.ISSUED]


def period_billing(uow: UnitOfWork, sub: Subscription) -> PeriodBilling:
    """The invoice lines of ``sub`` whose period overlaps its current period."""
    start, end = sub.current_period_start, sub.current_period_end
    found = PeriodBilling()
    # Newest first (ids are time-ordered): stop at the first invoice of an earlier period.
    for invoice in every(uow.invoices.list, subscription_id=sub.id):
        spans = [line.period for line in invoice.lines if line.period is not None]
        if spans and max(span.end for span in spans) <= start:
            return found
        if invoice.status not in _BILLED:
            continue
        overlapping = [
            line
            for line in invoice.lines
            if line.period is not None and line.period.end > start and line.period.start < end
        ]
        if not overlapping:
            continue
        notes = _issued(uow.credit_notes.list(invoice_id=invoice.id, limit=MAX_LIST_LIMIT))
        credited: dict[str, int] = {}
        for note in notes:
            for credit in note.lines:
                key = credit.invoice_line_id
                credited[key] = credited.get(key, 0) + credit.amount
        found.invoices[invoice.id] = invoice
        found.notes[invoice.id] = notes
        for line in overlapping:
            assert line.period is not None  # filtered above
            found.lines.append(
                BilledLine(
                    invoice_id=invoice.id,
                    line_id=line.id,
                    amount=line.net_amount,
                    period_start=line.period.start,
                    period_end=line.period.end,
                    creditable=max(0, max(line.net_amount, 0) - credited.get(line.id, 0)),
                )
            )
    return found


def _refundable(uow: UnitOfWork, invoice: Invoice) -> int:
    """What the invoice's succeeded payments can still refund."""
    payments = uow.payments.list(
        invoice_id=invoice.id, status=PaymentStatus.SUCCEEDED, limit=MAX_LIST_LIMIT
    )
    return sum(max(0, payment.refundable_amount) for payment in payments)


def _request(parts: Sequence[LineCredit], memo: str) -> CreditNoteRequest:
    return CreditNoteRequest(
        lines=tuple(
            CreditLineRequest(invoice_line_id=part.line_id, amount=part.amount) for part in parts
        ),
        reason=CreditNoteReason.ORDER_CHANGE,
        memo=memo,
    )


def _fitting(
    invoice: Invoice,
    notes: Sequence[CreditNote],
    parts: Sequence[LineCredit],
    memo: str,
    now: datetime,
) -> tuple[CreditNoteRequest | None, int]:
    """The credit note request for ``parts`` and the net amount that does not fit on the
    invoice (its total is below the parts: it also credited an earlier period)."""
    request = _request(parts, memo)
    wanted = sum(part.amount for part in parts)
    try:
        issue_credit_note(
            invoice, request, credit_note_id="cn_dry_run", number="-", now=now, previous=notes
        )
        return request, 0
    except CreditExceedsInvoiceError:
        left = max(invoice.total, 0) - sum(note.total for note in notes)
        if left <= 0:
            return None, wanted
    whole = CreditNoteRequest(amount=left, reason=CreditNoteReason.ORDER_CHANGE, memo=memo)
    note = issue_credit_note(
        invoice, whole, credit_note_id="cn_dry_run", number="-", now=now, previous=notes
    )
    return whole, max(0, wanted - note.subtotal)


def credit_unused_time(
    uow: UnitOfWork,
    settings: BillingSettings,
    billing: PeriodBilling,
    credits: Sequence[LineCredit],
    *,
    sub: Subscription,
    now: datetime,
    refund: bool,
    events: PendingEvents,
) -> list[CreditNote]:
    """Issue the credit notes for ``credits`` (one per invoice) and route their money."""
    memo = cancellation_memo(sub.id)
    by_invoice: dict[str, list[LineCredit]] = {}
    for credit in credits:
        by_invoice.setdefault(credit.invoice_id, []).append(credit)
    issued: list[CreditNote] = []
    for invoice_id, parts in by_invoice.items():
        invoice = billing.invoices[invoice_id]
        notes = billing.notes[invoice_id]
        request, excess = _fitting(invoice, notes, parts, memo, now)
        if request is not None:
            note_id = new_id("cn")
            if refund:
                dry = issue_credit_note(
                    invoice, request, credit_note_id=note_id, number="-", now=now, previous=notes
                )
                paid_back = sum(n.refund_amount + n.out_of_band_amount for n in notes)
                refundable = min(
                    dry.post_payment_amount,
                    _refundable(uow, invoice),
                    invoice.amount_paid - paid_back,
                )
                request = request.model_copy(update={"refund_amount": max(0, refundable)})
            note = store_credit_note(
                uow,
                settings,
                invoice,
                request,
                credit_note_id=note_id,
                previous=notes,
                now=now,
                events=events,
            )
            issued.append(note)
        if excess and invoice.status is InvoiceStatus.PAID:
            # Paid for, but more than this invoice can credit: the rest is customer credit.
            record_balance(uow, invoice, excess, "adjustment", now, description=memo)
    return issued


def settle_cancellation(
    uow: UnitOfWork,
    settings: BillingSettings,
    sub: Subscription,
    *,
    now: datetime,
    actor: str,
    cause: str,
    prorate: bool,
    invoice_now: bool,
    refund: bool,
    events: PendingEvents,
) -> Cancellation:
    """Cancel ``sub`` now: credit notes for the unused time of what was billed (with
    ``prorate``), pending items removed. The caller invoices ``final_items`` and saves."""
    stored = uow.pending_items.for_subscriptions([sub.id]).get(sub.id, [])
    billing = period_billing(uow, sub) if prorate else PeriodBilling()
    result = cancel(
        sub,
        at=now,
        actor=actor,
        cause=cause,
        prorate=prorate,
        billed=billing.lines,
        pending_items=[p.item for p in stored],
        invoice_now=invoice_now,
        rounding=settings.rounding,
    )
    credit_unused_time(
        uow,
        settings,
        billing,
        result.credits,
        sub=result.subscription,
        now=now,
        refund=refund,
        events=events,
    )
    uow.pending_items.delete([p.id for p in stored])
    return result


def cancellation_notes(uow: UnitOfWork, sub: Subscription) -> list[CreditNote]:
    """The credit notes a cancellation of ``sub`` issued (found by their memo)."""
    memo = cancellation_memo(sub.id)
    billing = period_billing(uow, sub)
    return [note for notes in billing.notes.values() for note in notes if note.memo == memo]


def _refund_key(key: str, note_id: str, payment_id: str, attempt: int) -> str:
    # One key per (cancellation, note, payment, attempt): a replay finds the refund it made;
    # a refund that failed for good is retried under the next attempt number.
    base = key if len(key) <= 160 else hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"{base}:refund:{note_id}:{payment_id}:{attempt}"


@dataclass(frozen=True)
class _PlannedRefund:
    payment_id: str
    amount: int
    credit_note_id: str
    idempotency_key: str


def _plan_refunds(uow: UnitOfWork, note: CreditNote, key: str) -> list[_PlannedRefund]:
    payments = sorted(
        uow.payments.list(
            invoice_id=note.invoice_id, status=PaymentStatus.SUCCEEDED, limit=MAX_LIST_LIMIT
        ),
        key=lambda payment: payment.id,
    )
    linked = {
        payment.id: [
            r
            for r in uow.refunds.list(payment_id=payment.id, limit=MAX_LIST_LIMIT)
            if r.credit_note_id == note.id
        ]
        for payment in payments
    }
    done = sum(r.amount for refunds in linked.values() for r in refunds if r.status in _HOLDS_MONEY)
    remaining = note.refund_amount - done
    planned: list[_PlannedRefund] = []
    for payment in payments:
        if remaining <= 0:
            break
        amount = min(remaining, payment.refundable_amount)
        if amount <= 0:
            continue
        attempt = sum(1 for r in linked[payment.id] if r.status not in _HOLDS_MONEY)
        planned.append(
            _PlannedRefund(
                payment.id, amount, note.id, _refund_key(key, note.id, payment.id, attempt)
            )
        )
        remaining -= amount
    return planned


def refund_cancellation_notes(
    storage: Storage, refunder: Refunder, subscription_id: str, key: str
) -> None:
    """Refund what the cancellation's credit notes record as ``refund_amount`` and has not
    been refunded yet, through ``refunder`` (after the cancellation committed)."""
    with storage.unit_of_work() as uow:
        sub = uow.subscriptions.get(subscription_id).subscription
        planned = [
            refund
            for note in cancellation_notes(uow, sub)
            if note.refund_amount
            for refund in _plan_refunds(uow, note, key)
        ]
    for refund in planned:
        refunder.refund(
            refund.payment_id,
            refund.amount,
            idempotency_key=refund.idempotency_key,
            credit_note_id=refund.credit_note_id,
            reason=RefundReason.REQUESTED_BY_CUSTOMER.value,
        )


__all__ = [
    "PeriodBilling",
    "Refunder",
    "cancellation_memo",
    "cancellation_notes",
    "credit_unused_time",
    "period_billing",
    "refund_cancellation_notes",
    "settle_cancellation",
]
