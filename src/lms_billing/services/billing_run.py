"""The billing run: renew every subscription due at ``at``, in batches, safely in parallel.

Each batch is one transaction: claim up to ``batch_size`` due subscriptions
(``claim_due``: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), apply what is due to each (trial
notice, collection resuming, trial end, renewal, cancel at period end, incomplete expiry,
possibly several periods when a run was missed), create and finalize the period invoices
(coupons in effect, pending proration items, tax, gap-free numbers), attempt payment through
the :class:`~lms_billing.services.collection.Collector`, and save the subscriptions, the
invoices (one ``executemany`` per table) and the consumed pending items. Then commit.

Because the renewal, its invoice and the period advance commit together, a subscription
renewed once is no longer due: running again at the same instant bills nothing twice, and
any number of workers may run at once.
"""

from __future__ import annotations

import logging
import os
import socket
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from lms_billing.clock import ensure_aware
from lms_billing.domain.customers import Customer
from lms_billing.domain.events import Event
from lms_billing.domain.invoices import Invoice, InvoiceStatus, void
from lms_billing.domain.numbering import NumberingSeries, format_number, period_key
from lms_billing.domain.renewal import (
    INCOMPLETE_EXPIRY,
    InvoiceCollection,
    RenewalAction,
    is_due,
    plan_renewal,
)
from lms_billing.domain.subscription_changes import resume_collection
from lms_billing.domain.subscription_records import (
    BillingRun,
    PendingInvoiceItem,
    SubscriptionRecord,
    trial_will_end_at,
)
from lms_billing.domain.subscriptions import (
    SYSTEM_ACTOR,
    TERMINAL_STATUSES,
    PauseCollection,
    Subscription,
    SubscriptionStatus,
    activate,
    expire_incomplete,
)
from lms_billing.errors import ValidationError
from lms_billing.ids import new_id
from lms_billing.services._context import ServiceContext
from lms_billing.services._invoicing_support import tax_engine
from lms_billing.services._subscription_support import (
    InvoiceFinisher,
    after_collection,
    invoice_from_plan,
)
from lms_billing.services.collection import CollectionOutcome, Collector, NoopCollector
from lms_billing.storage.base import MAX_LIST_LIMIT, UnitOfWork

logger = logging.getLogger("lms_billing.billing_run")

DEFAULT_BATCH_SIZE = 500
MAX_PERIODS_PER_RUN = 1000  # a guard: catching up more periods than this is a data error


class BillingRunResult(BaseModel):
    """What one :func:`run_billing` call did (one worker's share of a run)."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    at: datetime
    worker: str
    batches: int
    claimed: int
    renewed: int
    invoices_created: int
    invoices_paid: int
    trials_converted: int
    canceled: int
    paused: int
    expired: int
    notices_sent: int
    stuck: int = 0  # due subscriptions left alone after a batch made no progress on them


def default_worker_id() -> str:
    """``host:pid``: tells apart the workers of a Kubernetes Job or a process pool."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class _Counts:
    batches: int = 0
    claimed: int = 0
    renewed: int = 0
    invoices_created: int = 0
    invoices_paid: int = 0
    trials_converted: int = 0
    canceled: int = 0
    paused: int = 0
    expired: int = 0
    notices_sent: int = 0
    stuck: int = 0


@dataclass(frozen=True)
class _Draft:
    """A prepared invoice waiting for its number (drawn for the whole batch at once)."""

    record: int  # index into _Batch.records
    invoice: Invoice
    subscription: Subscription
    collection: InvoiceCollection
    at: datetime


@dataclass
class _Batch:
    """Everything one batch writes, gathered before the set-based writes."""

    records: list[SubscriptionRecord] = field(default_factory=list)
    drafts: list[_Draft] = field(default_factory=list)
    invoices: list[Invoice] = field(default_factory=list)
    voided: list[Invoice] = field(default_factory=list)
    consumed: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def _event(type: str, at: datetime, customer_id: str, **data: str) -> Event:
    return Event(id=new_id("evt"), type=type, created_at=at, customer_id=customer_id, data=data)


class _Renewer:
    """Applies everything due to one claimed subscription, inside the batch's unit of work."""

    def __init__(
        self,
        uow: UnitOfWork,
        ctx: ServiceContext,
        finisher: InvoiceFinisher,
        at: datetime,
        counts: _Counts,
        batch: _Batch,
    ) -> None:
        self._uow = uow
        self._ctx = ctx
        self._finisher = finisher
        self._at = at
        self._counts = counts
        self._batch = batch

    def renew(
        self, record: SubscriptionRecord, customer: Customer, pending: Sequence[PendingInvoiceItem]
    ) -> SubscriptionRecord:
        at, batch, counts = self._at, self._batch, self._counts
        sub, discounts, notice_sent = (
            record.subscription,
            record.discounts,
            record.trial_notice_sent,
        )
        if sub.status is SubscriptionStatus.INCOMPLETE:
            if at >= sub.created_at + INCOMPLETE_EXPIRY:
                sub = self._expire(sub)
            return record.model_copy(update={"subscription": sub})
        # A collection pause is *not* cleared up front: each missed period below is invoiced
        # with the collection in effect at its own start (a catch-up run voids, drafts or
        # writes off the periods that fell inside the pause, as timely runs would have).
        pause = sub.pause_collection
        notice = trial_will_end_at(sub)
        if notice is not None and not notice_sent and sub.trial_end is not None:
            # Announced once its time has come; a run claiming the subscription earlier (for
            # a collection pause ending, say) leaves it due for a later run.
            if notice <= at < sub.trial_end:
                batch.events.append(
                    _event(
                        "customer.subscription.trial_will_end",
                        notice,
                        sub.customer_id,
                        subscription_id=sub.id,
                        trial_end=sub.trial_end.isoformat(),
                    )
                )
                counts.notices_sent += 1
            if notice <= at:
                notice_sent = True
        items = [p.item for p in pending]
        periods = 0
        while is_due(sub, at):
            periods += 1
            if periods > MAX_PERIODS_PER_RUN:
                break
            plan = plan_renewal(sub, at, pending_items=items, discounts=discounts)
            if items:
                batch.consumed.extend(p.id for p in pending)
                items = []
            sub, discounts = plan.subscription, plan.discounts
            self._count(plan.action)
            if plan.invoice is not None:
                draft = invoice_from_plan(
                    plan.invoice, sub, discounts, created_at=plan.at, settings=self._ctx.settings
                )
                collection = plan.invoice.collection
                prepared = self._finisher.prepare(draft, customer, collection, plan.at)
                batch.drafts.append(_Draft(len(batch.records), prepared, sub, collection, plan.at))
            batch.events.append(
                _event(
                    f"customer.subscription.{plan.action.value}",
                    plan.at,
                    sub.customer_id,
                    subscription_id=sub.id,
                    status=sub.status.value,
                )
            )
            if sub.status is not SubscriptionStatus.TRIALING:
                notice_sent = False
        if not is_due(sub, at):  # caught up (a MAX_PERIODS_PER_RUN stop ends the pause later)
            sub = self._end_pause(sub, pause)
        # ``sub`` and ``discounts`` come from validated renewal plans (or the record loaded
        # from storage) and ``notice_sent`` is a bool: no second validation needed.
        return SubscriptionRecord.model_construct(
            subscription=sub, discounts=tuple(discounts), trial_notice_sent=notice_sent
        )

    def _end_pause(self, sub: Subscription, pause: PauseCollection | None) -> Subscription:
        """Clear a collection pause whose ``resumes_at`` has passed (a renewal after it
        already did) and announce ``collection_resumed``."""
        if pause is None or pause.resumes_at is None or pause.resumes_at > self._at:
            return sub
        if sub.status in TERMINAL_STATUSES:
            return sub  # canceled meanwhile: the cancellation ended the pause
        if sub.pause_collection == pause:  # no renewal since it ended (that would clear it)
            sub = resume_collection(sub, at=pause.resumes_at)  # by the system, at resumes_at
        self._batch.events.append(
            _event(
                "customer.subscription.collection_resumed",
                pause.resumes_at,
                sub.customer_id,
                subscription_id=sub.id,
            )
        )
        return sub

    def _count(self, action: RenewalAction) -> None:
        counts = self._counts
        if action is RenewalAction.RENEW:
            counts.renewed += 1
        elif action is RenewalAction.TRIAL_CONVERTED:
            counts.trials_converted += 1
        elif action is RenewalAction.TRIAL_PAUSED:
            counts.paused += 1
        else:
            counts.canceled += 1

    def _expire(self, sub: Subscription) -> Subscription:
        invoices = self._uow.invoices
        paid = invoices.list(subscription_id=sub.id, status=InvoiceStatus.PAID, limit=1)
        if paid:
            # The first invoice was paid outside a collector (billing.invoices.pay): activate.
            return activate(sub, at=paid[0].paid_at or self._at)
        # The first invoice stayed unpaid: expire the subscription and void that invoice.
        expired = expire_incomplete(sub, at=self._at)
        for invoice in invoices.list(subscription_id=sub.id, status=InvoiceStatus.OPEN):
            if invoice.amount_paid:  # part paid: voiding is refused; finance credits it
                continue
            self._batch.voided.append(void(invoice, self._at))
        self._counts.expired += 1
        self._batch.events.append(
            _event(
                "customer.subscription.incomplete_expired",
                self._at,
                sub.customer_id,
                subscription_id=sub.id,
            )
        )
        return expired


def _numbers(uow: UnitOfWork, series: NumberingSeries, moments: Sequence[datetime]) -> list[str]:
    """Gap-free numbers for invoices issued at ``moments``, reserved in one statement per
    numbering period (in sorted order, so concurrent batches cannot deadlock)."""
    # A batch's invoices share few distinct instants (period starts): each is localised once.
    key_of = {moment: period_key(series, moment) for moment in set(moments)}
    keys = [key_of[moment] for moment in moments]
    wanted = Counter(keys)
    first = {
        key: uow.billing_runs.reserve_numbers(series.id, key, wanted[key], start=series.start)
        for key in sorted(wanted)
    }
    used: Counter[str] = Counter()
    numbers = []
    for moment, key in zip(moments, keys, strict=True):
        numbers.append(format_number(series, first[key] + used[key], moment))
        used[key] += 1
    return numbers


def _finalize_drafts(
    uow: UnitOfWork, ctx: ServiceContext, finisher: InvoiceFinisher, batch: _Batch, counts: _Counts
) -> set[int]:
    """Number, finalize and collect the batch's invoices, then apply payment outcomes;
    returns the indexes (into ``batch.records``) of the records those outcomes changed."""
    changed: set[int] = set()
    issued = [d for d in batch.drafts if d.collection is not InvoiceCollection.KEEP_AS_DRAFT]
    numbers = iter(_numbers(uow, ctx.settings.invoice_numbering, [d.at for d in issued]))
    for draft in batch.drafts:
        if draft.collection is InvoiceCollection.KEEP_AS_DRAFT:
            batch.invoices.append(draft.invoice)
            continue
        invoice, outcome = finisher.complete(
            draft.invoice, next(numbers), draft.subscription, draft.collection, draft.at
        )
        batch.invoices.append(invoice)
        if outcome is CollectionOutcome.PAID:
            counts.invoices_paid += 1
        if draft.collection is InvoiceCollection.CHARGE_AUTOMATICALLY:
            record = batch.records[draft.record]
            sub = after_collection(record.subscription, outcome, draft.at, actor=SYSTEM_ACTOR)
            if sub is not record.subscription:  # a status change (paid, failed)
                batch.records[draft.record] = record.model_copy(update={"subscription": sub})
                changed.add(draft.record)
    counts.invoices_created += len(batch.drafts)
    return changed


def _run_batch(
    ctx: ServiceContext,
    at: datetime,
    batch_size: int,
    collector: Collector,
    counts: _Counts,
    stuck: set[str],
) -> tuple[int, list[Event]]:
    """One claimed batch in one transaction; returns how many subscriptions it held.

    A subscription still due afterwards (more than :data:`MAX_PERIODS_PER_RUN` periods to
    catch up) is simply claimed again by a later batch and continues. One that made no
    progress at all (its ``next_action_at`` unchanged: a data error) joins ``stuck`` and is
    left out of later claims, so it can neither loop the run nor hide the rows behind it.
    ``stuck`` stays empty on healthy data: memory does not grow with the number billed.
    """
    engine = tax_engine(ctx.plugins.tax_engines(), ctx.settings)
    with ctx.storage.unit_of_work() as uow:
        fresh = uow.subscriptions.claim_due(at, batch_size, exclude=stuck)
        if not fresh:
            return 0, []
        pending = uow.pending_items.for_subscriptions([r.id for r in fresh])
        customers = uow.billing_runs.customers([r.subscription.customer_id for r in fresh])
        # Balances are locked for the whole batch before any number is drawn (lock order).
        balances = uow.billing_runs.lock_balances(
            [(r.subscription.customer_id, r.subscription.currency) for r in fresh]
        )
        finisher = InvoiceFinisher(uow, ctx.settings, engine, collector, balances)
        batch = _Batch()
        renewer = _Renewer(uow, ctx, finisher, at, counts, batch)
        for record in fresh:
            customer = customers[record.subscription.customer_id]
            batch.records.append(renewer.renew(record, customer, pending.get(record.id, ())))
        # Renewed subscriptions and consumed pending items are written before the invoice
        # numbers are drawn: the counter row stays locked until the commit, and the less
        # work after it, the less other workers wait for it. The few records a payment
        # outcome changes (a failed renewal: past_due) are written again below.
        uow.subscriptions.update_many(batch.records)
        uow.pending_items.delete(batch.consumed)
        changed = _finalize_drafts(uow, ctx, finisher, batch, counts)
        uow.billing_runs.insert_invoices(batch.invoices)
        for invoice in batch.voided:
            uow.invoices.update(invoice)
        for transaction in finisher.balance_transactions:
            uow.customer_balance.add(transaction)
        for receipt in finisher.add_receipts():
            batch.events.append(
                _event(
                    "receipt.created", receipt.paid_at, receipt.customer_id, receipt_id=receipt.id
                )
            )
        uow.subscriptions.update_many([batch.records[index] for index in sorted(changed)])
        uow.commit()
    for before, after in zip(fresh, batch.records, strict=True):
        due = after.next_action_at
        if due is not None and due <= at and due == before.next_action_at:
            stuck.add(after.id)
            counts.stuck += 1
            logger.error(
                "Billing run at %s: subscription %s is still due at %s after its renewal "
                "made no progress; it is left out of this run.",
                at.isoformat(),
                after.id,
                due.isoformat(),
            )
    counts.batches += 1
    counts.claimed += len(fresh)
    return len(fresh), batch.events


def run_billing(
    ctx: ServiceContext,
    at: datetime | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    worker_id: str | None = None,
    collector: Collector | None = None,
) -> BillingRunResult:
    """Renew every subscription due at ``at`` (default: the clock's now), batch by batch.

    Safe to run concurrently (several processes or machines against one PostgreSQL
    database) and to re-run: work already committed is not due any more.

    :param batch_size: subscriptions per transaction (1 to 1000).
    :param worker_id: recorded on the :class:`BillingRun` (default ``host:pid``).
    :param collector: attempts payment of each finalized invoice (default: none).
    """
    moment = ensure_aware(at if at is not None else ctx.clock.now(), name="at")
    if isinstance(batch_size, bool) or not 1 <= batch_size <= MAX_LIST_LIMIT:
        raise ValidationError(
            f"batch_size must be from 1 to {MAX_LIST_LIMIT}.", batch_size=batch_size
        )
    worker = worker_id or default_worker_id()
    run = BillingRun(id=new_id("brun"), at=moment, worker=worker, started_at=ctx.clock.now())
    with ctx.storage.unit_of_work() as uow:
        uow.billing_runs.add(run)
        uow.commit()
    counts = _Counts()
    stuck: set[str] = set()
    active = collector or NoopCollector()
    while True:
        done, events = _run_batch(ctx, moment, batch_size, active, counts, stuck)
        # After the commit (sinks never see rolled-back work), a batch's events at once: each
        # to the event hooks in order, then to each sink in one publish.
        ctx.plugins.emit_events(events)
        if done == 0:
            break
    finished = run.model_copy(update={**counts.__dict__, "finished_at": ctx.clock.now()})
    with ctx.storage.unit_of_work() as uow:
        uow.billing_runs.update(finished, expected_version=1)
        uow.commit()
    return BillingRunResult(run_id=run.id, at=moment, worker=worker, **counts.__dict__)


__all__ = ["DEFAULT_BATCH_SIZE", "BillingRunResult", "default_worker_id", "run_billing"]
