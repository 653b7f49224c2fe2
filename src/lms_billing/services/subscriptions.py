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
from lms_billing.domain.customer_balance import (
    BalanceTransactionType,
    CustomerBalanceTransaction,
)
from lms_billing.domain.proration import ProrationBehavior
from lms_billing.domain.renewal import (
    BillingReason,
    InvoicePlan,
    plan_period_invoice,
    preview_upcoming_invoice,
)
from lms_billing.domain.subscription_changes import (
    cancel,
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
from lms_billing.errors import InvalidSubscriptionOperationError
from lms_billing.ids import new_id
from lms_billing.services._context import PendingEvents, ServiceContext, mutate, validating
from lms_billing.services._invoicing_support import tax_engine
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
from lms_billing.storage.base import DEFAULT_LIST_LIMIT, UnitOfWork

ItemInput = ItemSpec | Mapping[str, Any]


class SubscriptionService:
    """Subscriptions for course memberships and seat-based team plans.

    :param collector: attempts payment of the invoices subscriptions create (default: none,
        invoices stay open until paid through ``billing.invoices.pay``).
    """

    def __init__(self, ctx: ServiceContext, *, collector: Collector | None = None) -> None:
        self._ctx = ctx
        self.collector: Collector = collector or NoopCollector()

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
    ) -> Subscription:
        """Start a subscription. Without a trial its first period is invoiced, finalized
        and collected now (``incomplete`` until paid, then ``active``); with one it starts
        ``trialing``. ``coupon`` (an id) or ``promotion_code`` (what the customer typed)
        becomes a discount on the subscription, redeemed once.

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
                actor=customer.id,
                metadata=dict(metadata or {}),
            )
            discounts = subscription_discounts(uow, sub, coupon, code_text, now)
            if sub.status is SubscriptionStatus.INCOMPLETE:
                plan = plan_period_invoice(sub, discounts=discounts)
                sub = self._invoice_now(uow, events, sub, discounts, plan, now)
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
    ) -> Subscription:
        """Replace the items: upgrade, downgrade, seats, add-ons or a new interval.

        ``create_prorations`` stores the proration lines as pending items for the next
        invoice; ``always_invoice`` invoices them now (an interval change always invoices
        the new period now); ``none`` prorates nothing.
        """
        with validating("subscription items"):
            specs = item_specs(items)
            behavior = parse_enum(ProrationBehavior, proration_behavior, name="proration_behavior")

        def execute(uow: UnitOfWork, events: PendingEvents) -> Subscription:
            now = self._ctx.clock.now()
            record = uow.subscriptions.get(subscription_id)
            sub = record.subscription
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
                sub = self._invoice_now(uow, events, sub, record.discounts, plan, now)
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
        }
        return self._mutate("subscriptions.update_items", idempotency_key, request, execute)

    # --- cancel, pause, resume -----------------------------------------------------------

    def cancel(
        self,
        subscription_id: str,
        *,
        idempotency_key: str,
        prorate: bool = False,
        cause: str = "requested",
    ) -> Subscription:
        """Cancel now. ``prorate=True`` credits the unused part of a paid period to the
        customer's credit balance (it pays their next invoices, or is refunded)."""

        def execute(uow: UnitOfWork, events: PendingEvents) -> Subscription:
            now = self._ctx.clock.now()
            record = uow.subscriptions.get(subscription_id)
            result = cancel(
                record.subscription,
                at=now,
                actor=record.subscription.customer_id,
                cause=cause,
                prorate=prorate,
                rounding=self._ctx.settings.rounding,
            )
            sub = result.subscription
            credit = -sum(item.amount for item in result.credit_items)
            if credit > 0:
                uow.customer_balance.add(
                    CustomerBalanceTransaction(
                        id=new_id("cbtxn"),
                        customer_id=sub.customer_id,
                        currency=sub.currency,
                        amount=credit,
                        type=BalanceTransactionType.ADJUSTMENT,
                        description=f"Unused time on canceled subscription {sub.id}",
                        created_at=now,
                    )
                )
            uow.subscriptions.update(record.model_copy(update={"subscription": sub}))
            events.record("customer.subscription.deleted", sub, customer_id=sub.customer_id)
            return sub

        request = {"subscription_id": subscription_id, "prorate": prorate, "cause": cause}
        return self._mutate("subscriptions.cancel", idempotency_key, request, execute)

    def cancel_at_period_end(self, subscription_id: str, *, idempotency_key: str) -> Subscription:
        """Keep the subscription until its period ends, then cancel it (no renewal)."""
        return self._change(
            "subscriptions.cancel_at_period_end",
            subscription_id,
            idempotency_key,
            {},
            lambda sub, now: cancel_at_period_end(sub, at=now),
        )

    def resume(self, subscription_id: str, *, idempotency_key: str) -> Subscription:
        """Undo a scheduled cancellation, or reactivate a ``paused`` subscription (its new
        period starts now and is invoiced now)."""

        def execute(uow: UnitOfWork, events: PendingEvents) -> Subscription:
            now = self._ctx.clock.now()
            record = uow.subscriptions.get(subscription_id)
            sub = record.subscription
            if sub.status is SubscriptionStatus.PAUSED:
                sub = resume(sub, at=now, actor=sub.customer_id)
                plan = plan_period_invoice(
                    sub,
                    discounts=record.discounts,
                    billing_reason=BillingReason.SUBSCRIPTION_CYCLE,
                    rounding=self._ctx.settings.rounding,
                )
                sub = self._invoice_now(uow, events, sub, record.discounts, plan, now)
            elif sub.cancel_at_period_end:
                sub = resume_before_period_end(sub, at=now)
            else:
                raise InvalidSubscriptionOperationError(
                    "Only paused subscriptions or scheduled cancellations can be resumed.",
                    subscription_id=sub.id,
                )
            uow.subscriptions.update(record.model_copy(update={"subscription": sub}))
            events.record("customer.subscription.resumed", sub, customer_id=sub.customer_id)
            return sub

        request = {"subscription_id": subscription_id}
        return self._mutate("subscriptions.resume", idempotency_key, request, execute)

    def pause_collection(
        self,
        subscription_id: str,
        *,
        behavior: PauseCollectionBehavior | str,
        idempotency_key: str,
        resumes_at: datetime | None = None,
    ) -> Subscription:
        """Pause payment collection (``keep_as_draft``, ``mark_uncollectible``, ``void``),
        until ``resumes_at`` or :meth:`resume_collection`."""
        return self._change(
            "subscriptions.pause_collection",
            subscription_id,
            idempotency_key,
            {"behavior": str(behavior), "resumes_at": resumes_at},
            lambda sub, now: pause_collection(
                sub, behavior=behavior, at=now, resumes_at=resumes_at
            ),
        )

    def resume_collection(self, subscription_id: str, *, idempotency_key: str) -> Subscription:
        """Collect payments again from the next invoice on."""
        return self._change(
            "subscriptions.resume_collection",
            subscription_id,
            idempotency_key,
            {},
            lambda sub, now: resume_collection(sub),
        )

    # --- reads ---------------------------------------------------------------------------

    def get(self, subscription_id: str) -> Subscription:
        with self._ctx.storage.unit_of_work() as uow:
            return uow.subscriptions.get(subscription_id).subscription

    def discounts(self, subscription_id: str) -> tuple[Discount, ...]:
        """The coupon discounts on a subscription (ended ones included)."""
        with self._ctx.storage.unit_of_work() as uow:
            return uow.subscriptions.get(subscription_id).discounts

    def pending_items(self, subscription_id: str) -> list[PendingInvoiceItem]:
        """Proration lines waiting for the subscription's next invoice."""
        with self._ctx.storage.unit_of_work() as uow:
            uow.subscriptions.get(subscription_id)
            return uow.pending_items.for_subscriptions([subscription_id]).get(subscription_id, [])

    def list(
        self,
        *,
        customer_id: str | None = None,
        status: SubscriptionStatus | str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[Subscription]:
        wanted = None if status is None else parse_enum(SubscriptionStatus, status, name="status")
        with self._ctx.storage.unit_of_work() as uow:
            records = uow.subscriptions.list(
                customer_id=customer_id, status=wanted, limit=limit, starting_after=starting_after
            )
        return [record.subscription for record in records]

    def preview_upcoming_invoice(
        self,
        subscription_id: str,
        *,
        items: Sequence[ItemInput] | None = None,
        proration_date: datetime | None = None,
    ) -> InvoicePlan | None:
        """The next invoice (Stripe's upcoming invoice), before tax; nothing is written.
        Pass ``items`` to preview a plan change made now."""
        specs = None if items is None else item_specs(items)
        with self._ctx.storage.unit_of_work() as uow:
            record = uow.subscriptions.get(subscription_id)
            sub = record.subscription
            pending = uow.pending_items.for_subscriptions([sub.id]).get(sub.id, [])
            priced = (
                None
                if specs is None
                else build_items(
                    uow,
                    specs,
                    currency=sub.currency,
                    settings=self._ctx.settings,
                    current=sub.items,
                )
            )
        return preview_upcoming_invoice(
            sub,
            self._ctx.clock.now(),
            pending_items=[p.item for p in pending],
            discounts=record.discounts,
            items=priced,
            proration_date=proration_date,
            rounding=self._ctx.settings.rounding,
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
        return after_collection(sub, outcome, now, actor=sub.customer_id)

    def _change(
        self,
        operation: str,
        subscription_id: str,
        idempotency_key: str,
        params: Mapping[str, Any],
        change: Callable[[Subscription, datetime], Subscription],
    ) -> Subscription:
        def execute(uow: UnitOfWork, events: PendingEvents) -> Subscription:
            record = uow.subscriptions.get(subscription_id)
            sub = change(record.subscription, self._ctx.clock.now())
            uow.subscriptions.update(record.model_copy(update={"subscription": sub}))
            events.record("customer.subscription.updated", sub, customer_id=sub.customer_id)
            return sub

        request = {"subscription_id": subscription_id, **params}
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
