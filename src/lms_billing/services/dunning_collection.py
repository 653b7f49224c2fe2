"""Collecting subscription invoices through gateways, and dunning when renewals fail.

The billing run finalizes renewal invoices inside its batch transaction and hands each to a
:class:`~lms_billing.services.collection.Collector`. Charging a card there would hold the
batch's row locks for the length of a network call (and a rollback could not take a charge
back), so :class:`GatewayCollector` charges nothing in the batch: it answers ``pending`` and
notes the invoice. :func:`collect_due` (``billing.payments.collect_due(at)``), run after the
billing run, charges every open subscription invoice not attempted yet and every retry that
is due, each attempt outside any batch transaction::

    billing.subscriptions.run_billing(at)
    billing.payments.collect_due(at)

A failed attempt moves the subscription to ``past_due`` and schedules retries by the
:class:`~lms_billing.domain.dunning.DunningPolicy` (days 1, 3, 5, 7 after the first failure;
hard declines such as ``stolen_card`` are not retried). When the schedule is exhausted the
subscription becomes ``unpaid`` or ``canceled`` per policy. A later success (a retry, or the
customer paying on session) marks the invoice paid and the subscription ``active`` again.
Events for notifications: ``invoice.payment_failed``, ``invoice.payment_action_required``,
``customer.subscription.past_due``, ``customer.subscription.unpaid`` /
``customer.subscription.canceled``, ``subscription.dunning_<final>`` and
``invoice.payment_recovered``.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from lms_billing.clock import ensure_aware
from lms_billing.domain.dunning import DunningAction, next_dunning_step
from lms_billing.domain.events import Event
from lms_billing.domain.invoices import Invoice, InvoiceStatus
from lms_billing.domain.payment_records import DunningState, DunningStatus, Payment
from lms_billing.domain.payments import PaymentStatus
from lms_billing.domain.subscriptions import (
    Subscription,
    SubscriptionStatus,
    activate,
    can_transition,
    transition,
)
from lms_billing.errors import PaymentBlockedError, ProviderError
from lms_billing.services._payment_support import event, publish
from lms_billing.services.collection import CollectionOutcome, CollectionResult
from lms_billing.storage.base import MAX_LIST_LIMIT, UnitOfWork

if TYPE_CHECKING:
    from lms_billing.services.payments import PaymentService

DUNNING_ACTOR = "system:dunning"


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


class CollectionRunResult(BaseModel):
    """What one :func:`collect_due` pass did."""

    model_config = ConfigDict(frozen=True)

    attempted: int = 0
    paid: int = 0
    failed: int = 0
    exhausted: int = 0
    deferred: int = 0


def _invoices_to_start(uow: UnitOfWork, queued: list[str]) -> list[Invoice]:
    """Open subscription invoices with no dunning state and no payment attempt yet."""
    candidates: list[Invoice] = []
    for invoice_id in queued:
        invoice = uow.invoices.get_or_none(invoice_id)
        if invoice is not None:
            candidates.append(invoice)
    after: str | None = None
    while True:  # finds invoices noted by a collector in another (or a restarted) process
        page = uow.invoices.list(
            status=InvoiceStatus.OPEN, limit=MAX_LIST_LIMIT, starting_after=after
        )
        candidates.extend(page)
        if len(page) < MAX_LIST_LIMIT:
            break
        after = page[-1].id
    seen: set[str] = set()
    found: list[Invoice] = []
    for invoice in candidates:
        if invoice.id in seen:
            continue
        seen.add(invoice.id)
        if (
            invoice.status is InvoiceStatus.OPEN
            and invoice.subscription_id is not None
            and invoice.amount_remaining > 0
            and uow.dunning.get_or_none(invoice.id) is None
            and not uow.payments.list(invoice_id=invoice.id, limit=1)
        ):
            found.append(invoice)
    return found


def collect_due(
    service: PaymentService,
    at: datetime | None = None,
    *,
    collector: GatewayCollector | None = None,
) -> CollectionRunResult:
    """Charge open subscription invoices not attempted yet and the retries due at ``at``.

    Each attempt is :meth:`PaymentService.pay_invoice` off session with the subscription's
    (or else the customer's) default saved payment method and an idempotency key per invoice
    and attempt, so two workers running the same pass charge once.
    """
    ctx = service._ctx
    moment = ensure_aware(at if at is not None else ctx.clock.now(), name="at")
    queued = (collector or service.collector).drain()
    with ctx.storage.unit_of_work() as uow:
        fresh = _invoices_to_start(uow, queued)
        retries = uow.dunning.due(moment, MAX_LIST_LIMIT)
    counts = {"attempted": 0, "paid": 0, "failed": 0, "exhausted": 0, "deferred": 0}
    work = [(invoice.id, 1) for invoice in fresh] + [(s.id, s.attempts + 1) for s in retries]
    for invoice_id, attempt in work:
        outcome = _attempt(service, invoice_id, attempt, moment)
        counts[outcome] += 1
        if outcome != "deferred":
            counts["attempted"] += 1
    return CollectionRunResult(**counts)


def _attempt(service: PaymentService, invoice_id: str, attempt: int, at: datetime) -> str:
    """One collection attempt; returns ``paid``, ``failed``, ``exhausted`` or ``deferred``."""
    ctx = service._ctx
    with ctx.storage.unit_of_work() as uow:
        invoice = uow.invoices.get(invoice_id)
        state = uow.dunning.get_or_none(invoice_id)
        if invoice.status is not InvoiceStatus.OPEN or invoice.amount_remaining == 0:
            events = on_invoice_paid(uow, invoice, at)  # paid meanwhile (on session, ...)
            uow.commit()
            publish(ctx, events)
            return "paid"
        methods = uow.payment_methods.list(customer_id=invoice.customer_id, limit=MAX_LIST_LIMIT)
        record = (
            None
            if invoice.subscription_id is None
            else uow.subscriptions.get_or_none(invoice.subscription_id)
        )
    wanted = None if record is None else record.subscription.default_payment_method
    chosen = next((m for m in methods if wanted is not None and wanted in (m.id, m.token)), None)
    chosen = chosen or next((m for m in methods if m.is_default), None)
    # After a hard decline, try again only with a different payment method.
    if (
        state is not None
        and not state.retryable
        and (chosen is None or chosen.token == state.last_payment_method)
    ):
        return _register_failure(service, invoice, state.last_decline_code, None, at)
    if chosen is None:
        return _register_failure(service, invoice, "no_payment_method", None, at)
    try:
        payment = service.pay_invoice(
            invoice.id,
            idempotency_key=f"collect:{invoice.id}:{attempt}",
            gateway=chosen.gateway,
            payment_method=chosen.token,
            off_session=True,
        )
    except PaymentBlockedError:
        return _register_failure(service, invoice, "blocked_by_fraud_rules", None, at)
    except ProviderError as exc:
        if exc.retryable:
            return "deferred"  # the provider is down: the next pass makes the same attempt
        return _register_failure(service, invoice, exc.provider_code or exc.code, None, at)
    if payment.status is PaymentStatus.SUCCEEDED:
        return "paid"  # the invoice is paid and dunning ended (see on_invoice_paid)
    decline = payment.decline_code or payment.failure_code
    if payment.status is PaymentStatus.REQUIRES_ACTION:
        decline = "authentication_required"  # cannot succeed off session
    return _register_failure(service, invoice, decline, payment, at)


def _register_failure(
    service: PaymentService,
    invoice: Invoice,
    decline_code: str | None,
    payment: Payment | None,
    at: datetime,
) -> str:
    """Record a failed attempt, decide the next step and move the subscription."""
    ctx = service._ctx
    events: list[Event] = []
    with ctx.storage.unit_of_work() as uow:
        state = uow.dunning.get_or_none(invoice.id)
        attempts = 1 if state is None else state.attempts + 1
        first = at if state is None or state.first_failed_at is None else state.first_failed_at
        step = next_dunning_step(
            service.settings.dunning,
            failed_attempts=attempts,
            first_failed_at=first,
            decline_code=decline_code,
            now=at,
        )
        final = step.action is DunningAction.FINAL
        updated = DunningState(
            id=invoice.id,
            customer_id=invoice.customer_id,
            subscription_id=invoice.subscription_id,
            status=DunningStatus.EXHAUSTED if final else DunningStatus.ACTIVE,
            attempts=attempts,
            first_failed_at=first,
            next_retry_at=None if final else step.retry_at,
            last_decline_code=decline_code,
            last_payment_id=None if payment is None else payment.id,
            last_payment_method=None if payment is None else payment.payment_method,
            retryable=step.action is DunningAction.RETRY,
            updated_at=at,
        )
        if state is None:
            uow.dunning.add(updated)
        else:
            uow.dunning.update(updated)
        events.append(
            event(
                step.event,
                at,
                invoice.customer_id,
                invoice_id=invoice.id,
                subscription_id=invoice.subscription_id,
                attempt=attempts,
                decline_code=decline_code,
                next_retry_at=None
                if updated.next_retry_at is None
                else updated.next_retry_at.isoformat(),
                reason=step.reason,
            )
        )
        if invoice.subscription_id is not None:
            record = uow.subscriptions.get(invoice.subscription_id)
            sub, target = record.subscription, step.subscription_status
            if sub.status is not target and can_transition(sub.status, target):
                cause = "payment_failed" if not final else f"dunning_{target.value}"
                moved = transition(sub, target, cause=cause, actor=DUNNING_ACTOR, at=at)
                uow.subscriptions.update(record.model_copy(update={"subscription": moved}))
                events.append(
                    event(
                        f"customer.subscription.{target.value}",
                        at,
                        sub.customer_id,
                        subscription_id=sub.id,
                        invoice_id=invoice.id,
                        status=target.value,
                    )
                )
        uow.commit()
    publish(ctx, events)
    return "exhausted" if final else "failed"


def on_invoice_paid(uow: UnitOfWork, invoice: Invoice, at: datetime) -> list[Event]:
    """Within ``uow``: end dunning for a paid invoice and reactivate its subscription
    (``past_due``/``unpaid`` -> ``active``; an ``incomplete`` first invoice -> ``active``).
    Returns the events to publish after the commit."""
    events: list[Event] = []
    if invoice.status is not InvoiceStatus.PAID:
        return events
    state = uow.dunning.get_or_none(invoice.id)
    if state is not None and state.status is not DunningStatus.RECOVERED:
        uow.dunning.update(
            state.model_copy(
                update={"status": DunningStatus.RECOVERED, "next_retry_at": None, "updated_at": at}
            )
        )
        events.append(
            event(
                "invoice.payment_recovered",
                at,
                invoice.customer_id,
                invoice_id=invoice.id,
                attempts=state.attempts,
            )
        )
    if invoice.subscription_id is None:
        return events
    record = uow.subscriptions.get_or_none(invoice.subscription_id)
    if record is None:
        return events
    sub = record.subscription
    if sub.status is SubscriptionStatus.INCOMPLETE:
        moved = activate(sub, at=at, actor=DUNNING_ACTOR)
    elif sub.status in (SubscriptionStatus.PAST_DUE, SubscriptionStatus.UNPAID):
        moved = transition(
            sub, SubscriptionStatus.ACTIVE, cause="invoice_paid", actor=DUNNING_ACTOR, at=at
        )
    else:
        return events
    uow.subscriptions.update(record.model_copy(update={"subscription": moved}))
    events.append(
        event(
            "customer.subscription.updated",
            at,
            sub.customer_id,
            subscription_id=sub.id,
            status=moved.status.value,
            previous_status=sub.status.value,
        )
    )
    return events


__all__ = [
    "DUNNING_ACTOR",
    "CollectionRunResult",
    "GatewayCollector",
    "collect_due",
    "on_invoice_paid",
]
