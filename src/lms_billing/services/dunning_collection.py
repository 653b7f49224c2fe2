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

Only a *failure* is a failure. An attempt the provider could not take (timeout, 5xx) is
resumed on a later pass with the same idempotency key (``deferred``), and one still in
flight at the provider (``processing`` for SEPA or ACH debits, ``requires_capture``) is
waited on (``pending``): its webhook, or a re-read on a later pass, resolves it. Neither
moves the subscription or announces a failed payment. Each pass handles every invoice on
its own: one that cannot be handled is reported in ``errors`` and the pass goes on.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from lms_billing.clock import ensure_aware
from lms_billing.domain.dunning import DunningAction, next_dunning_step
from lms_billing.domain.events import Event
from lms_billing.domain.invoices import Invoice, InvoiceStatus
from lms_billing.domain.payment_records import DunningState, DunningStatus, Payment
from lms_billing.domain.payments import PaymentStatus
from lms_billing.domain.subscriptions import (
    SubscriptionStatus,
    activate,
    can_transition,
    transition,
)
from lms_billing.errors import BillingError, ConflictError, PaymentBlockedError, ProviderError
from lms_billing.services._payment_collector import GatewayCollector
from lms_billing.services._payment_support import event, publish
from lms_billing.storage.base import MAX_LIST_LIMIT, UnitOfWork, every

if TYPE_CHECKING:
    from lms_billing.services.payments import PaymentService

DUNNING_ACTOR = "system:dunning"


class CollectionRunResult(BaseModel):
    """What one :func:`collect_due` pass did.

    ``attempted`` counts the invoices worked on (charged, resumed or re-read); ``pending``
    those still in flight at the provider, ``deferred`` those the provider could not take
    now (made again on a later pass). ``errors`` maps an invoice id to the error code that
    stopped its handling (the pass went on with the others).
    """

    model_config = ConfigDict(frozen=True)

    attempted: int = 0
    paid: int = 0
    failed: int = 0
    exhausted: int = 0
    pending: int = 0
    deferred: int = 0
    errors: dict[str, str] = Field(default_factory=dict)


def collection_key(invoice_id: str, attempt: int) -> str:
    """The idempotency key of collection attempt ``attempt`` (1-based) of an invoice."""
    return f"collect:{invoice_id}:{attempt}"


def _ours_only(uow: UnitOfWork, invoice: Invoice) -> bool:
    """True when every payment of ``invoice`` is a collection attempt (or there is none):
    an attempt recorded before a crash is resumed; one made by the customer is not ours."""
    prefix = collection_key(invoice.id, 0)[:-1]
    return all(
        payment.idempotency_key.startswith(prefix)
        for payment in uow.payments.list(invoice_id=invoice.id, limit=MAX_LIST_LIMIT)
    )


def _invoices_to_start(uow: UnitOfWork, queued: list[str]) -> list[Invoice]:
    """Open subscription invoices that collection has not started (no dunning state), and
    no one else tried to pay: not attempted yet, or attempted by a pass that crashed."""
    candidates: list[Invoice] = []
    for invoice_id in queued:
        invoice = uow.invoices.get_or_none(invoice_id)
        if invoice is not None:
            candidates.append(invoice)
    # Also the invoices noted by a collector in another (or a restarted) process.
    candidates.extend(every(uow.invoices.list, status=InvoiceStatus.OPEN))
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
            and _ours_only(uow, invoice)
        ):
            found.append(invoice)
    return found


def collect_due(
    service: PaymentService,
    at: datetime | None = None,
    *,
    collector: GatewayCollector | None = None,
) -> CollectionRunResult:
    """Charge open subscription invoices not attempted yet, the retries due at ``at``, and
    look again at attempts that were deferred or in flight.

    Each attempt is :meth:`PaymentService.pay_invoice` off session with the subscription's
    (or else the customer's) default saved payment method and an idempotency key per invoice
    and attempt (:func:`collection_key`), so two workers running the same pass charge once
    and a resumed attempt never charges twice.
    """
    ctx = service._ctx
    moment = ensure_aware(at if at is not None else ctx.clock.now(), name="at")
    queued = (collector or service.collector).drain()
    with ctx.storage.unit_of_work() as uow:
        fresh = _invoices_to_start(uow, queued)
        retries = uow.dunning.due(moment, MAX_LIST_LIMIT)
    counts = {"attempted": 0, "paid": 0, "failed": 0, "exhausted": 0, "pending": 0, "deferred": 0}
    errors: dict[str, str] = {}
    work = list(dict.fromkeys([invoice.id for invoice in fresh] + [s.id for s in retries]))
    for invoice_id in work:
        try:
            outcome = _attempt(service, invoice_id, moment)
        except BillingError as exc:
            # One invoice that cannot be handled (verification failed, a plugin's bad
            # answer ...) never stops the others; it is reported and looked at again.
            errors[invoice_id] = exc.code
            continue
        counts[outcome] += 1
        if outcome != "deferred":
            counts["attempted"] += 1
    return CollectionRunResult(**counts, errors=errors)


def _attempt(service: PaymentService, invoice_id: str, at: datetime) -> str:
    """Work on one invoice; returns ``paid``, ``failed``, ``exhausted``, ``pending`` or
    ``deferred``."""
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
        key = collection_key(invoice.id, (0 if state is None else state.attempts) + 1)
        ours = uow.payments.get_by_idempotency_key(key)
        waited = (
            None
            if state is None or state.pending_payment_id is None
            else uow.payments.get_or_none(state.pending_payment_id)
        )
    if waited is not None and (ours is None or waited.id != ours.id):
        # Someone else's attempt (the customer paying on session) held the invoice.
        try:
            waited = _follow(service, waited)
        except ProviderError as exc:
            if not exc.retryable:
                raise
            return _wait(service, invoice, waited, at, service.settings.collection_retry_delay)
        if waited.status is PaymentStatus.SUCCEEDED:
            return "paid"
        if waited.collecting:
            return _wait(service, invoice, waited, at, service.settings.pending_check_interval)
    if ours is not None:
        return _resume(service, invoice, ours, at)
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
            idempotency_key=key,
            gateway=chosen.gateway,
            payment_method=chosen.token,
            off_session=True,
        )
    except PaymentBlockedError:
        return _register_failure(service, invoice, "blocked_by_fraud_rules", None, at)
    except ProviderError as exc:
        return _provider_failed(service, invoice, key, exc, at)
    except ConflictError:
        # Another payment collects the invoice (the customer paying on session, a pass in
        # another worker): wait for it instead of charging a second time.
        holder = _collecting_payment(service, invoice.id)
        if holder is None:
            raise
        return _wait(service, invoice, holder, at, service.settings.pending_check_interval)
    return _resolve(service, invoice, payment, at)


def _resume(service: PaymentService, invoice: Invoice, payment: Payment, at: datetime) -> str:
    """Carry on with an attempt recorded earlier: resend it, re-read it, or judge it."""
    try:
        payment = _follow(service, payment)
    except PaymentBlockedError:
        return _register_failure(service, invoice, "blocked_by_fraud_rules", None, at)
    except ProviderError as exc:
        return _provider_failed(service, invoice, payment.idempotency_key, exc, at)
    return _resolve(service, invoice, payment, at)


def _follow(service: PaymentService, payment: Payment) -> Payment:
    """An attempt brought up to date: an unsent one is sent (same gateway idempotency key),
    one in flight is re-read from its gateway, a success is settled."""
    if (
        payment.gateway_payment_id is None
        and payment.status is PaymentStatus.REQUIRES_CONFIRMATION
        and not payment.blocked
    ):
        return service._drive(payment)
    if payment.collecting and payment.gateway_payment_id is not None:
        return service.sync_payment(payment.id)
    if payment.status is PaymentStatus.SUCCEEDED and payment.receipt_id is None:
        return service._drive(payment)
    return payment


def _provider_failed(
    service: PaymentService, invoice: Invoice, key: str, exc: ProviderError, at: datetime
) -> str:
    """The provider failed the attempt: wait and resume it if that may help, else fail."""
    if not exc.retryable:
        # The attempt was recorded as failed (a request the provider will never accept).
        return _register_failure(service, invoice, exc.provider_code or exc.code, None, at)
    with service._ctx.storage.unit_of_work() as uow:
        unsent = uow.payments.get_by_idempotency_key(key)
    if unsent is None:  # pragma: no cover - pay_invoice records the attempt before sending
        raise exc
    # The provider is down: the same attempt (same key) is made again after the delay.
    _wait(service, invoice, unsent, at, service.settings.collection_retry_delay)
    return "deferred"


def _collecting_payment(service: PaymentService, invoice_id: str) -> Payment | None:
    with service._ctx.storage.unit_of_work() as uow:
        payments = uow.payments.list(invoice_id=invoice_id, limit=MAX_LIST_LIMIT)
    return next((p for p in payments if p.collecting), None)


def _resolve(service: PaymentService, invoice: Invoice, payment: Payment, at: datetime) -> str:
    """Judge an attempt the gateway answered: paid, still in flight, or failed."""
    if payment.status is PaymentStatus.SUCCEEDED:
        return "paid"  # the invoice is paid and dunning ended (see on_invoice_paid)
    if payment.collecting:
        # processing / requires_capture: not a failure; its webhook or a re-read decides.
        return _wait(service, invoice, payment, at, service.settings.pending_check_interval)
    decline = payment.decline_code or payment.failure_code
    if payment.status is PaymentStatus.REQUIRES_ACTION:
        decline = "authentication_required"  # cannot succeed off session
    elif payment.status is PaymentStatus.CANCELED:
        decline = decline or "payment_canceled"
    return _register_failure(service, invoice, decline, payment, at)


def _wait(
    service: PaymentService, invoice: Invoice, payment: Payment, at: datetime, delay: timedelta
) -> str:
    """Note that collection waits on ``payment`` and looks again after ``delay``; nothing
    failed, so the subscription does not move and no failure is announced."""
    with service._ctx.storage.unit_of_work() as uow:
        state = uow.dunning.get_or_none(invoice.id)
        if state is None:
            uow.dunning.add(
                DunningState(
                    id=invoice.id,
                    customer_id=invoice.customer_id,
                    subscription_id=invoice.subscription_id,
                    status=DunningStatus.PENDING,
                    next_retry_at=at + delay,
                    pending_payment_id=payment.id,
                    updated_at=at,
                )
            )
        else:
            uow.dunning.update(
                state.model_copy(
                    update={
                        "pending_payment_id": payment.id,
                        "next_retry_at": at + delay,
                        "updated_at": at,
                    }
                )
            )
        uow.commit()
    return "pending"


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
            pending_payment_id=None,
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
                update={
                    "status": DunningStatus.RECOVERED,
                    "next_retry_at": None,
                    "pending_payment_id": None,
                    "updated_at": at,
                }
            )
        )
        if state.attempts > 0:  # a state that only waited on an attempt recovered nothing
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
    "collection_key",
    "on_invoice_paid",
]
