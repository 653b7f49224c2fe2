"""Subscription use cases: create, change, cancel, pause and resume, preview, read.

Every mutating call is one unit of work run through
:func:`~lms_billing.services._context.mutate` (idempotency key, writes, events commit
together). Invoices a call creates (the first period, ``always_invoice`` prorations, a
resumed period) are finalized and collected in the same transaction; renewals are the
billing run's job (:mod:`lms_billing.services.billing_run`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from lms_billing.domain.billing_cycle import BillingCycleMode, parse_enum
from lms_billing.domain.coupons import (
    Discount,
    normalize_code,
)
from lms_billing.domain.proration import ProrationBehavior
from lms_billing.domain.renewal import (
    BillingReason,
    InvoicePlan,
    plan_period_invoice,
)
from lms_billing.domain.subscription_changes import (
    cancel_at_period_end,
    pause_collection,
    resume,
    resume_before_period_end,
    resume_collection,
    update_items,
)
from lms_billing.domain.subscription_records import PendingInvoiceItem, SubscriptionRecord
from lms_billing.domain.subscriptions import (
    PauseCollectionBehavior,
    Subscription,
    SubscriptionStatus,
    TrialSettings,
    create_subscription,
)
from lms_billing.errors import InvalidSubscriptionError, InvalidSubscriptionOperationError
from lms_billing.ids import new_id
from lms_billing.services._context import PendingEvents, ServiceContext, mutate, validating
from lms_billing.services._invoicing_support import tax_engine
from lms_billing.services._subscription_cancel import (
    Refunder,
    refund_cancellation_notes,
    settle_cancellation,
)
from lms_billing.services._subscription_support import (
    InvoiceFinisher,
    ItemSpec,
    after_collection,
    build_items,
    invoice_from_plan,
    item_specs,
    label_prorations,
    subscription_discounts,
)
from lms_billing.services.billing_run import (
    DEFAULT_BATCH_SIZE,
    BillingRunResult,
    run_billing,
)
from lms_billing.services.collection import Collector, NoopCollector
from lms_billing.services.subscription_queries import ItemInput, SubscriptionQueries
from lms_billing.storage.base import UnitOfWork


def _given(**params: Any) -> dict[str, Any]:
    """The parameters that are set (``None`` left out), for idempotency requests: calls
    made without the newer options keep the request they always had."""
    return {name: value for name, value in params.items() if value is not None}


class SubscriptionService(SubscriptionQueries):
    """Subscriptions for course memberships and seat-based team plans.

    :param collector: attempts payment of the invoices subscriptions create (default: none,
        invoices stay open until paid through ``billing.invoices.pay``).
    :param refunder: refunds the unused time of a canceled subscription when asked
        (``cancel(..., refund=True)``); the :class:`~lms_billing.Billing` facade sets its
        payments service.

    Every mutating call takes an ``idempotency_key`` and an ``actor`` (default: the
    customer): who did it, recorded with the time and cause in the subscription's
    ``history``.
    """

    def __init__(
        self,
        ctx: ServiceContext,
        *,
        collector: Collector | None = None,
        refunder: Refunder | None = None,
    ) -> None:
        super().__init__(ctx)
        self.collector: Collector = collector or NoopCollector()
        self.refunder: Refunder | None = refunder

    # --- create --------------------------------------------------------------------------

    def create(
        self,
        customer_id: str,
        items: Sequence[ItemInput],
        *,
        idempotency_key: str,
        trial_period_days: int | None = None,
        trial_end: datetime | None = None,
        trial_settings: TrialSettings | Mapping[str, Any] | None = None,
        default_payment_method: str | None = None,
        coupon: str | None = None,
        promotion_code: str | None = None,
        billing_mode: BillingCycleMode | str = BillingCycleMode.ANNIVERSARY,
        billing_cycle_anchor: datetime | None = None,
        currency: str | None = None,
        metadata: Mapping[str, str] | None = None,
        actor: str | None = None,
    ) -> Subscription:
        """Start a subscription. Without a trial its first period is invoiced, finalized
        and collected now (``incomplete`` until paid, then ``active``); with one it starts
        ``trialing``. ``coupon`` (an id) or ``promotion_code`` (what the customer typed)
        becomes a discount on the subscription, redeemed once. ``actor`` (default: the
        customer) is who did it, as recorded in the subscription's ``history``.

        :raises NotFoundError: unknown customer, price, coupon or code.
        :raises InvalidSubscriptionError: non-recurring prices, bad trial settings ...
        :raises CouponExpiredError, CouponExhaustedError, CouponNotApplicableError:
        """
        with validating("subscription"):
            specs = item_specs(items)
            settings_model = (
                None
                if trial_settings is None or isinstance(trial_settings, TrialSettings)
                else TrialSettings.model_validate(dict(trial_settings))
            )
            trial = settings_model if settings_model is not None else trial_settings
            mode = parse_enum(BillingCycleMode, billing_mode, name="billing_mode")
        code_text = None if promotion_code is None else normalize_code(promotion_code)

        def execute(uow: UnitOfWork, events: PendingEvents) -> Subscription:
            now = self._ctx.clock.now()
            customer = uow.customers.get(customer_id)
            priced = build_items(
                uow,
                specs,
                currency=currency or customer.preferred_currency,
                settings=self._ctx.settings,
            )
            sub = create_subscription(
                id=new_id("sub"),
                customer_id=customer.id,
                items=priced,
                at=now,
                trial_period_days=trial_period_days,
                trial_end=trial_end,
                trial_settings=trial if isinstance(trial, TrialSettings) else None,
                default_payment_method=default_payment_method,
                billing_mode=mode,
                billing_cycle_anchor_at=billing_cycle_anchor,
                actor=actor or customer.id,
                metadata=dict(metadata or {}),
            )
            discounts = subscription_discounts(uow, sub, coupon, code_text, now)
            if sub.status is SubscriptionStatus.INCOMPLETE:
                plan = plan_period_invoice(sub, discounts=discounts)
                sub = self._invoice_now(
                    uow, events, sub, discounts, plan, now, actor=actor or customer.id
                )
            uow.subscriptions.add(SubscriptionRecord(subscription=sub, discounts=discounts))
            events.record("customer.subscription.created", sub, customer_id=sub.customer_id)
            return sub

        request = {
            "customer_id": customer_id,
            "items": [s.model_dump(mode="json") for s in specs],
            "trial_period_days": trial_period_days,
            "trial_end": trial_end,
            "trial_settings": None if trial is None else trial,
            "default_payment_method": default_payment_method,
            "coupon": coupon,
            "promotion_code": code_text,
            "billing_mode": mode,
            "billing_cycle_anchor": billing_cycle_anchor,
            "currency": currency,
            "metadata": dict(metadata or {}),
            **_given(actor=actor),
        }
        return self._mutate("subscriptions.create", idempotency_key, request, execute)

    # --- plan changes --------------------------------------------------------------------

    def update_items(
        self,
        subscription_id: str,
        items: Sequence[ItemInput],
        *,
        idempotency_key: str,
        proration_behavior: ProrationBehavior | str = ProrationBehavior.CREATE_PRORATIONS,
        proration_date: datetime | None = None,
        actor: str | None = None,
    ) -> Subscription:
        """Replace the items: upgrade, downgrade, seats, add-ons or a new interval.

        ``create_prorations`` stores the proration lines as pending items for the next
        invoice; ``always_invoice`` invoices them now (an interval change always invoices
        the new period now); ``none`` prorates nothing. ``history`` records the change
        (``items_updated``) by ``actor`` (default: the customer).
        """
        with validating("subscription items"):
            specs = item_specs(items)
            behavior = parse_enum(ProrationBehavior, proration_behavior, name="proration_behavior")

        def execute(uow: UnitOfWork, events: PendingEvents) -> Subscription:
            now = self._ctx.clock.now()
            record = uow.subscriptions.get(subscription_id)
            sub = record.subscription
            who = actor or sub.customer_id
            priced = build_items(
                uow, specs, currency=sub.currency, settings=self._ctx.settings, current=sub.items
            )
            update = update_items(
                sub,
                priced,
                at=now,
                proration_behavior=behavior,
                proration_date=proration_date,
                rounding=self._ctx.settings.rounding,
                actor=who,
            )
            sub = update.subscription
            new_items = [
                PendingInvoiceItem(
                    id=new_id("ii"),
                    subscription_id=sub.id,
                    customer_id=sub.customer_id,
                    item=item,
                    created_at=now,
                )
                for item in label_prorations(
                    update.proration_items, record.subscription.items, priced
                )
            ]
            if update.invoice_now:
                stored = uow.pending_items.for_subscriptions([sub.id]).get(sub.id, [])
                pending = [p.item for p in (*stored, *new_items)]
                uow.pending_items.delete([p.id for p in stored])
                plan = plan_period_invoice(
                    sub,
                    pending_items=pending,
                    discounts=record.discounts,
                    billing_reason=BillingReason.SUBSCRIPTION_UPDATE,
                    include_items=update.billing_cycle_reset,
                    rounding=self._ctx.settings.rounding,
                )
                sub = self._invoice_now(uow, events, sub, record.discounts, plan, now, actor=who)
            else:
                for pending_item in new_items:
                    uow.pending_items.add(pending_item)
            uow.subscriptions.update(record.model_copy(update={"subscription": sub}))
            events.record("customer.subscription.updated", sub, customer_id=sub.customer_id)
            return sub

        request = {
            "subscription_id": subscription_id,
            "items": [s.model_dump(mode="json") for s in specs],
            "proration_behavior": behavior,
            "proration_date": proration_date,
            **_given(actor=actor),
        }
        return self._mutate("subscriptions.update_items", idempotency_key, request, execute)

    # --- cancel, pause, resume -----------------------------------------------------------

    def cancel(
        self,
        subscription_id: str,
        *,
        idempotency_key: str,
        prorate: bool = False,
        invoice_now: bool = True,
        refund: bool = False,
        cause: str = "requested",
        actor: str | None = None,
    ) -> Subscription:
        """Cancel now, settling the current period.

        :param prorate: credit the unused time (from now to the period end) of what the
            current period's invoices actually billed, net of discounts, with tax following
            in proportion: one credit note per invoice. On an unpaid invoice the credit only
            lowers the amount still due (an unpaid period is never credited or refunded); on
            a paid one it goes to the customer's credit balance, or is refunded with
            ``refund``. Prorations still pending were never billed and are not credited.
        :param invoice_now: pending proration items go on a final invoice, created,
            finalized and collected now (with ``prorate``, each only for the time used
            until now); ``False`` discards them (the customer is neither charged nor
            credited for them). Stripe's ``invoice_now``; the default differs because
            pending items here belong to the subscription, so nothing would bill them later.
        :param refund: with ``prorate``, refund the credit of paid invoices through the
            payments service (up to what their succeeded payments can still refund; the
            rest goes to the credit balance). The credit notes record ``refund_amount``
            with the cancellation; the refunds are made right after it commits (a replay
            of the same call retries any that failed). Without a :attr:`refunder` (the
            :class:`~lms_billing.Billing` facade sets its payments service) the credit
            notes are only recorded: move the money with ``payments.refund(payment_id,
            amount, credit_note_id=...)``.
        :param actor: who canceled (default: the customer), kept in ``history``.
        :raises InvalidSubscriptionError: ``refund`` without ``prorate``.
        :raises InvalidStateTransitionError: the subscription has already ended.
        """
        if refund and not prorate:
            raise InvalidSubscriptionError(
                "refund=True needs prorate=True: only the unused time's credit is refunded."
            )

        def execute(uow: UnitOfWork, events: PendingEvents) -> Subscription:
            now = self._ctx.clock.now()
            record = uow.subscriptions.get(subscription_id)
            who = actor or record.subscription.customer_id
            result = settle_cancellation(
                uow,
                self._ctx.settings,
                record.subscription,
                now=now,
                actor=who,
                cause=cause,
                prorate=prorate,
                invoice_now=invoice_now,
                refund=refund,
                events=events,
            )
            sub = result.subscription
            if result.final_items:
                plan = plan_period_invoice(
                    sub,
                    pending_items=result.final_items,
                    discounts=record.discounts,
                    billing_reason=BillingReason.SUBSCRIPTION_UPDATE,
                    include_items=False,
                    rounding=self._ctx.settings.rounding,
                )
                sub = self._invoice_now(uow, events, sub, record.discounts, plan, now, actor=who)
            uow.subscriptions.update(record.model_copy(update={"subscription": sub}))
            events.record("customer.subscription.deleted", sub, customer_id=sub.customer_id)
            return sub

        request = {
            "subscription_id": subscription_id,
            "prorate": prorate,
            "cause": cause,
            **_given(invoice_now=None if invoice_now else False, refund=refund or None),
            **_given(actor=actor),
        }
        canceled = self._mutate("subscriptions.cancel", idempotency_key, request, execute)
        if refund and self.refunder is not None:
            refund_cancellation_notes(
                self._ctx.storage, self.refunder, subscription_id, idempotency_key
            )
        return canceled

    def cancel_at_period_end(
        self, subscription_id: str, *, idempotency_key: str, actor: str | None = None
    ) -> Subscription:
        """Keep the subscription until its period ends, then cancel it (no renewal).
        ``history`` records ``cancel_at_period_end_scheduled`` by ``actor``."""
        return self._change(
            "subscriptions.cancel_at_period_end",
            subscription_id,
            idempotency_key,
            actor,
            {},
            lambda sub, now, who: cancel_at_period_end(sub, at=now, actor=who),
        )

    def resume(
        self, subscription_id: str, *, idempotency_key: str, actor: str | None = None
    ) -> Subscription:
        """Undo a scheduled cancellation (``history``: ``cancel_at_period_end_undone``), or
        reactivate a ``paused`` subscription (its new period starts now and is invoiced
        now), by ``actor`` (default: the customer)."""

        def execute(uow: UnitOfWork, events: PendingEvents) -> Subscription:
            now = self._ctx.clock.now()
            record = uow.subscriptions.get(subscription_id)
            sub = record.subscription
            who = actor or sub.customer_id
            if sub.status is SubscriptionStatus.PAUSED:
                sub = resume(sub, at=now, actor=who)
                plan = plan_period_invoice(
                    sub,
                    discounts=record.discounts,
                    billing_reason=BillingReason.SUBSCRIPTION_CYCLE,
                    rounding=self._ctx.settings.rounding,
                )
                sub = self._invoice_now(uow, events, sub, record.discounts, plan, now, actor=who)
            elif sub.cancel_at_period_end:
                sub = resume_before_period_end(sub, at=now, actor=who)
            else:
                raise InvalidSubscriptionOperationError(
                    "Only paused subscriptions or scheduled cancellations can be resumed.",
                    subscription_id=sub.id,
                )
            uow.subscriptions.update(record.model_copy(update={"subscription": sub}))
            events.record("customer.subscription.resumed", sub, customer_id=sub.customer_id)
            return sub

        request = {"subscription_id": subscription_id, **_given(actor=actor)}
        return self._mutate("subscriptions.resume", idempotency_key, request, execute)

    def pause_collection(
        self,
        subscription_id: str,
        *,
        behavior: PauseCollectionBehavior | str,
        idempotency_key: str,
        resumes_at: datetime | None = None,
        actor: str | None = None,
    ) -> Subscription:
        """Pause payment collection (``keep_as_draft``, ``mark_uncollectible``, ``void``),
        until ``resumes_at`` or :meth:`resume_collection`; ``history``:
        ``collection_paused`` by ``actor`` (default: the customer)."""
        return self._change(
            "subscriptions.pause_collection",
            subscription_id,
            idempotency_key,
            actor,
            {"behavior": str(behavior), "resumes_at": resumes_at},
            lambda sub, now, who: pause_collection(
                sub, behavior=behavior, at=now, resumes_at=resumes_at, actor=who
            ),
        )

    def resume_collection(
        self, subscription_id: str, *, idempotency_key: str, actor: str | None = None
    ) -> Subscription:
        """Collect payments again from the next invoice on (``history``:
        ``collection_resumed`` by ``actor``, default the customer)."""
        return self._change(
            "subscriptions.resume_collection",
            subscription_id,
            idempotency_key,
            actor,
            {},
            lambda sub, now, who: resume_collection(sub, at=now, actor=who),
        )

    def run_billing(
        self,
        at: datetime | None = None,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        worker_id: str | None = None,
    ) -> BillingRunResult:
        """Renew everything due at ``at`` (default now) with this service's collector."""
        return run_billing(
            self._ctx, at, batch_size=batch_size, worker_id=worker_id, collector=self.collector
        )

    # --- helpers -------------------------------------------------------------------------

    def _invoice_now(
        self,
        uow: UnitOfWork,
        events: PendingEvents,
        sub: Subscription,
        discounts: Sequence[Discount],
        plan: InvoicePlan,
        now: datetime,
        *,
        actor: str,
    ) -> Subscription:
        engine = tax_engine(self._ctx.plugins.tax_engines(), self._ctx.settings)
        finisher = InvoiceFinisher(uow, self._ctx.settings, engine, self.collector)
        customer = uow.customers.get(sub.customer_id)
        draft = invoice_from_plan(plan, sub, discounts, created_at=now, settings=self._ctx.settings)
        invoice, outcome = finisher.finish(draft, sub, customer, plan.collection, now)
        uow.invoices.add(invoice)
        for transaction in finisher.balance_transactions:
            uow.customer_balance.add(transaction)
        events.record("invoice.created", invoice, customer_id=invoice.customer_id)
        for receipt in finisher.add_receipts():
            events.record("receipt.created", receipt, customer_id=receipt.customer_id)
        return after_collection(sub, outcome, now, actor=actor)

    def _change(
        self,
        operation: str,
        subscription_id: str,
        idempotency_key: str,
        actor: str | None,
        params: Mapping[str, Any],
        change: Callable[[Subscription, datetime, str], Subscription],
    ) -> Subscription:
        def execute(uow: UnitOfWork, events: PendingEvents) -> Subscription:
            record = uow.subscriptions.get(subscription_id)
            before = record.subscription
            sub = change(before, self._ctx.clock.now(), actor or before.customer_id)
            uow.subscriptions.update(record.model_copy(update={"subscription": sub}))
            events.record("customer.subscription.updated", sub, customer_id=sub.customer_id)
            return sub

        request = {"subscription_id": subscription_id, **params, **_given(actor=actor)}
        return self._mutate(operation, idempotency_key, request, execute)

    def _mutate(
        self,
        operation: str,
        idempotency_key: str,
        request: Mapping[str, Any],
        execute: Callable[[UnitOfWork, PendingEvents], Subscription],
    ) -> Subscription:
        return mutate(
            self._ctx,
            operation=operation,
            idempotency_key=idempotency_key,
            request=request,
            model=Subscription,
            execute=execute,
        )


__all__ = ["ItemSpec", "SubscriptionService"]
