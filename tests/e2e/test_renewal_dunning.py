"""A renewal fails and recovers through dunning, driven by the real billing run on a test
clock: GatewayCollector notes renewal invoices inside the batch, collect_due charges them
after it committed; retries follow the DunningPolicy (1, 3, 5, 7 days), hard declines are
not retried, and the policy's final action applies when the schedule is exhausted. Only a
failure is a failure: a provider outage defers the same attempt, and a payment still in
flight (an async debit) is waited on until its webhook or a later re-read resolves it."""

from __future__ import annotations

from datetime import datetime, timedelta

from lms_billing import TestClock
from lms_billing.domain.dunning import DunningFinalAction, DunningPolicy
from lms_billing.domain.invoices import Invoice, InvoiceStatus
from lms_billing.domain.payment_records import DunningState, DunningStatus
from lms_billing.domain.payments import PaymentResult, PaymentStatus
from lms_billing.domain.subscriptions import Subscription, SubscriptionStatus
from lms_billing.providers.sandbox import SandboxGateway
from lms_billing.services.payments import PaymentSettings
from lms_billing.storage.base import MAX_LIST_LIMIT

from .support import NOW, Shop, make_shop, sandbox_of


def subscribe(shop: Shop, card: str) -> Subscription:
    """A monthly membership whose first invoice is collected with ``card``."""
    payments = shop.billing.payments
    payments.attach_payment_method(shop.customer.id, card, idempotency_key="card-1")
    sub = shop.billing.subscriptions.create(
        shop.customer.id, [{"price_id": shop.monthly.id}], idempotency_key="sub-1"
    )
    assert sub.status is SubscriptionStatus.INCOMPLETE  # first invoice noted, not charged
    result = payments.collect_due()
    assert (result.attempted, result.paid) == (1, 1)
    active = shop.billing.subscriptions.get(sub.id)
    assert active.status is SubscriptionStatus.ACTIVE
    return active


def renewal_invoice(shop: Shop, sub: Subscription) -> Invoice:
    with shop.billing.storage.unit_of_work() as uow:
        invoices = uow.invoices.list(subscription_id=sub.id, limit=MAX_LIST_LIMIT)
    return max(invoices, key=lambda invoice: (invoice.created_at, invoice.id))


def dunning(shop: Shop, invoice_id: str) -> DunningState:
    with shop.billing.storage.unit_of_work() as uow:
        return uow.dunning.get(invoice_id)


def replace_card(shop: Shop, token: str, key: str) -> None:
    shop.billing.payments.attach_payment_method(
        shop.customer.id, token, idempotency_key=key, set_default=True
    )


def test_a_failed_renewal_recovers_on_a_later_retry(shop: Shop) -> None:
    sub = subscribe(shop, "pm_card_visa")
    replace_card(shop, "pm_card_chargeDeclinedInsufficientFunds", "card-2")

    renewal_at = shop.clock.set(sub.current_period_end)
    run = shop.billing.subscriptions.run_billing(renewal_at)
    assert run.renewed == 1
    invoice = renewal_invoice(shop, sub)
    assert invoice.status is InvoiceStatus.OPEN  # nothing was charged inside the batch

    first = shop.billing.payments.collect_due(renewal_at)
    assert (first.attempted, first.failed) == (1, 1)
    state = dunning(shop, invoice.id)
    assert (state.attempts, state.last_decline_code) == (1, "insufficient_funds")
    assert state.next_retry_at == renewal_at + timedelta(days=1)
    assert shop.billing.subscriptions.get(sub.id).status is SubscriptionStatus.PAST_DUE
    assert shop.log.count("invoice.payment_failed") == 1
    assert shop.log.count("customer.subscription.past_due") == 1

    # Nothing is due before the retry time; at day 1 the retry fails again.
    assert shop.billing.payments.collect_due(renewal_at + timedelta(hours=23)).attempted == 0
    shop.clock.advance(days=1)
    assert shop.billing.payments.collect_due().failed == 1
    assert dunning(shop, invoice.id).next_retry_at == renewal_at + timedelta(days=3)

    # The learner adds a working card; the day-3 retry pays the invoice.
    replace_card(shop, "pm_card_mastercard", "card-3")
    shop.clock.advance(days=2)
    recovered = shop.billing.payments.collect_due()
    assert (recovered.attempted, recovered.paid) == (1, 1)
    assert renewal_invoice(shop, sub).status is InvoiceStatus.PAID
    state = dunning(shop, invoice.id)
    assert (state.status, state.attempts, state.next_retry_at) == (
        DunningStatus.RECOVERED,
        2,
        None,
    )
    assert shop.billing.subscriptions.get(sub.id).status is SubscriptionStatus.ACTIVE
    assert shop.log.count("invoice.payment_recovered") == 1
    assert len(shop.billing.invoices.list_receipts(invoice_id=invoice.id)) == 1
    # Later passes find nothing to do.
    shop.clock.advance(days=10)
    assert shop.billing.payments.collect_due().attempted == 0


def test_a_hard_decline_is_not_retried_and_ends_unpaid(shop: Shop) -> None:
    sub = subscribe(shop, "pm_card_visa")
    replace_card(shop, "pm_card_chargeDeclinedStolenCard", "card-2")
    renewal_at = shop.clock.set(sub.current_period_end)
    shop.billing.subscriptions.run_billing(renewal_at)
    invoice = renewal_invoice(shop, sub)
    assert shop.billing.payments.collect_due(renewal_at).failed == 1
    state = dunning(shop, invoice.id)
    assert not state.retryable and state.next_retry_at == renewal_at + timedelta(days=7)

    attempts_before = len(shop.billing.payments.list(invoice_id=invoice.id))
    for day in (1, 3, 5):
        assert shop.billing.payments.collect_due(renewal_at + timedelta(days=day)).attempted == 0
    shop.clock.set(renewal_at + timedelta(days=7))
    assert shop.billing.payments.collect_due().exhausted == 1
    # The stolen card was never charged again.
    assert len(shop.billing.payments.list(invoice_id=invoice.id)) == attempts_before
    assert dunning(shop, invoice.id).status is DunningStatus.EXHAUSTED
    assert shop.billing.subscriptions.get(sub.id).status is SubscriptionStatus.UNPAID
    assert shop.log.count("subscription.dunning_unpaid") == 1

    # Paying on session later recovers the invoice and the subscription.
    replace_card(shop, "pm_card_visa", "card-3")
    paid = shop.billing.payments.pay_invoice(invoice.id, idempotency_key="manual")
    assert paid.receipt_id is not None
    assert shop.billing.subscriptions.get(sub.id).status is SubscriptionStatus.ACTIVE


def test_exhausted_retries_cancel_when_the_policy_says_so(shop: Shop) -> None:
    shop.billing.payments.settings = PaymentSettings(
        dunning=DunningPolicy(retry_days=(1, 3), final_action=DunningFinalAction.CANCELED)
    )
    sub = subscribe(shop, "pm_card_visa")
    replace_card(shop, "pm_card_chargeDeclined", "card-2")
    renewal_at = shop.clock.set(sub.current_period_end)
    shop.billing.subscriptions.run_billing(renewal_at)
    outcomes = []
    for day in (0, 1, 3):
        result = shop.billing.payments.collect_due(renewal_at + timedelta(days=day))
        outcomes.append((result.failed, result.exhausted))
    assert outcomes == [(1, 0), (1, 0), (0, 1)]
    canceled = shop.billing.subscriptions.get(sub.id)
    assert canceled.status is SubscriptionStatus.CANCELED
    assert shop.log.count("customer.subscription.canceled") == 1


def renew(shop: Shop, sub: Subscription) -> tuple[Invoice, datetime]:
    """Run the billing run at the period end; returns the renewal invoice and the instant."""
    at = shop.clock.set(sub.current_period_end)
    assert shop.billing.subscriptions.run_billing(at).renewed == 1
    return renewal_invoice(shop, sub), at


def deliver_webhooks(shop: Shop) -> list[str]:
    sandbox = sandbox_of(shop)
    return [
        shop.billing.payments.handle_webhook("sandbox", w.payload, w.headers).action
        for w in sandbox.take_webhooks()
    ]


def test_a_provider_outage_defers_the_renewal_and_resumes_the_same_attempt(shop: Shop) -> None:
    sub = subscribe(shop, "pm_card_visa")
    sandbox = sandbox_of(shop)
    invoice, at = renew(shop, sub)
    sandbox.fail_next(2)  # the provider is down for this pass and the next one
    charges = len(sandbox.list_balance_transactions())

    first = shop.billing.payments.collect_due(at)
    assert (first.deferred, first.failed, first.attempted, first.errors) == (1, 0, 0, {})
    state = dunning(shop, invoice.id)
    assert (state.status, state.attempts, state.first_failed_at) == (
        DunningStatus.PENDING,
        0,
        None,
    )
    assert shop.billing.subscriptions.get(sub.id).status is SubscriptionStatus.ACTIVE
    assert shop.log.count("invoice.payment_failed") == 0
    assert shop.log.count("customer.subscription.past_due") == 0

    # Nothing before the delay; then the same attempt again (still down), then it pays.
    assert shop.billing.payments.collect_due(at + timedelta(minutes=5)).deferred == 0
    assert shop.billing.payments.collect_due(at + timedelta(minutes=20)).deferred == 1
    paid = shop.billing.payments.collect_due(at + timedelta(hours=1))
    assert (paid.paid, paid.deferred) == (1, 0)
    [payment] = shop.billing.payments.list(invoice_id=invoice.id)  # one attempt, resumed
    assert payment.idempotency_key == f"collect:{invoice.id}:1" and payment.receipt_id
    assert sandbox.create_calls == 3 + 1  # three for this attempt (+1 for the first invoice)
    assert len(sandbox.list_balance_transactions()) == charges + 1  # charged once
    assert renewal_invoice(shop, sub).status is InvoiceStatus.PAID
    assert dunning(shop, invoice.id).status is DunningStatus.RECOVERED
    assert shop.log.count("invoice.payment_recovered") == 0  # nothing had failed
    assert shop.billing.subscriptions.get(sub.id).status is SubscriptionStatus.ACTIVE


def test_a_lost_response_is_resumed_with_the_same_key_and_charges_once(shop: Shop) -> None:
    sub = subscribe(shop, "pm_card_visa")
    sandbox = sandbox_of(shop)
    invoice, at = renew(shop, sub)
    sandbox.fail_next(after_charge=True)  # the sandbox charged; the response was lost
    charges = len(sandbox.list_balance_transactions())
    assert shop.billing.payments.collect_due(at).deferred == 1
    assert len(sandbox.list_balance_transactions()) == charges + 1  # the money moved

    resumed = shop.billing.payments.collect_due(at + timedelta(hours=1))
    assert resumed.paid == 1
    # The resumed call reused the gateway idempotency key: the sandbox replayed the charge.
    assert len(sandbox.list_balance_transactions()) == charges + 1
    assert len(shop.billing.payments.list(invoice_id=invoice.id)) == 1
    assert len(shop.billing.invoices.list_receipts(invoice_id=invoice.id)) == 1


def test_an_in_flight_renewal_is_not_a_failure_and_its_webhook_pays_it(shop: Shop) -> None:
    sub = subscribe(shop, "pm_card_visa")
    replace_card(shop, "pm_debit_processing", "card-2")
    invoice, at = renew(shop, sub)

    first = shop.billing.payments.collect_due(at)
    assert (first.pending, first.failed, first.attempted) == (1, 0, 1)
    [payment] = shop.billing.payments.list(invoice_id=invoice.id)
    assert payment.status is PaymentStatus.PROCESSING
    assert shop.billing.subscriptions.get(sub.id).status is SubscriptionStatus.ACTIVE
    assert shop.log.count("invoice.payment_failed") == 0
    state = dunning(shop, invoice.id)
    assert (state.status, state.pending_payment_id) == (DunningStatus.PENDING, payment.id)

    # A later pass re-reads it (still processing): no second charge, no failure, no error.
    later = shop.billing.payments.collect_due(at + timedelta(hours=2))
    assert (later.pending, later.failed, later.errors) == (1, 0, {})
    assert len(shop.billing.payments.list(invoice_id=invoice.id)) == 1

    # Days later the bank settles the debit; the webhook (verified by re-reading) pays.
    sandbox_of(shop).take_webhooks()  # (older deliveries were handled back then)
    shop.clock.advance(days=3)
    sandbox_of(shop).complete_processing(payment.gateway_payment_id or "")
    assert "payment_synced" in deliver_webhooks(shop)
    assert renewal_invoice(shop, sub).status is InvoiceStatus.PAID
    assert dunning(shop, invoice.id).status is DunningStatus.RECOVERED
    assert shop.billing.subscriptions.get(sub.id).status is SubscriptionStatus.ACTIVE
    assert shop.billing.payments.collect_due().attempted == 0


def test_an_in_flight_renewal_that_fails_later_enters_dunning(shop: Shop) -> None:
    sub = subscribe(shop, "pm_card_visa")
    replace_card(shop, "pm_debit_processing", "card-2")
    invoice, at = renew(shop, sub)
    assert shop.billing.payments.collect_due(at).pending == 1
    [payment] = shop.billing.payments.list(invoice_id=invoice.id)

    sandbox_of(shop).take_webhooks()
    shop.clock.advance(days=2)
    sandbox_of(shop).complete_processing(
        payment.gateway_payment_id or "", succeed=False, decline_code="insufficient_funds"
    )
    deliver_webhooks(shop)
    assert shop.billing.payments.get(payment.id).status is PaymentStatus.FAILED
    # The webhook made the invoice due at once: this pass registers the failure.
    failed = shop.billing.payments.collect_due()
    assert (failed.failed, failed.pending) == (1, 0)
    state = dunning(shop, invoice.id)
    assert (state.status, state.attempts, state.last_decline_code) == (
        DunningStatus.ACTIVE,
        1,
        "insufficient_funds",
    )
    assert state.next_retry_at == shop.clock.now() + timedelta(days=1)
    assert shop.billing.subscriptions.get(sub.id).status is SubscriptionStatus.PAST_DUE
    assert shop.log.count("invoice.payment_failed") == 1

    replace_card(shop, "pm_card_visa", "card-3")
    shop.clock.advance(days=1)
    assert shop.billing.payments.collect_due().paid == 1
    assert shop.billing.subscriptions.get(sub.id).status is SubscriptionStatus.ACTIVE
    assert shop.log.count("invoice.payment_recovered") == 1


def test_a_retry_waits_for_the_learners_own_payment_in_flight(shop: Shop) -> None:
    sub = subscribe(shop, "pm_card_visa")
    replace_card(shop, "pm_card_chargeDeclinedInsufficientFunds", "card-2")
    invoice, at = renew(shop, sub)
    assert shop.billing.payments.collect_due(at).failed == 1
    # The learner pays on session with a debit that takes days to settle.
    own = shop.billing.payments.pay_invoice(
        invoice.id, payment_method="pm_debit_processing", idempotency_key="own-1"
    )
    assert own.status is PaymentStatus.PROCESSING and own.collecting

    sandbox_of(shop).take_webhooks()
    retry = shop.billing.payments.collect_due(shop.clock.advance(days=1))
    assert (retry.pending, retry.failed, retry.errors) == (1, 0, {})  # no second charge
    assert dunning(shop, invoice.id).attempts == 1
    sandbox_of(shop).complete_processing(own.gateway_payment_id or "")
    deliver_webhooks(shop)
    assert renewal_invoice(shop, sub).status is InvoiceStatus.PAID
    assert dunning(shop, invoice.id).status is DunningStatus.RECOVERED
    assert shop.billing.subscriptions.get(sub.id).status is SubscriptionStatus.ACTIVE
    assert [p.idempotency_key for p in shop.billing.payments.list(invoice_id=invoice.id)] == [
        "own-1",
        f"collect:{invoice.id}:1",
    ]


class LyingSandbox(SandboxGateway):
    """A gateway whose re-read disagrees with what it charged (verification must fail)."""

    def retrieve_payment(self, payment_id: str) -> PaymentResult:
        result = super().retrieve_payment(payment_id)
        return result.model_copy(update={"amount_received": result.amount_received - 1})


def test_one_invoice_that_cannot_be_settled_does_not_stop_the_pass() -> None:
    clock = TestClock(NOW)
    shop = make_shop("memory://", clock=clock, gateways=(LyingSandbox(name="liar", clock=clock),))
    try:
        payments = shop.billing.payments
        grace = shop.billing.customers.create(
            {"external_id": "learner-2", "name": "Grace Hopper", "email": "grace@example.org"},
            idempotency_key="c-2",
        )
        payments.attach_payment_method(
            grace.id, "pm_card_visa", gateway="liar", idempotency_key="g"
        )
        payments.attach_payment_method(shop.customer.id, "pm_card_visa", idempotency_key="a")
        lying = shop.billing.subscriptions.create(
            grace.id, [{"price_id": shop.monthly.id}], idempotency_key="s-liar"
        )
        honest = shop.billing.subscriptions.create(
            shop.customer.id, [{"price_id": shop.monthly.id}], idempotency_key="s-honest"
        )
        result = payments.collect_due()
        assert result.paid == 1
        [stuck] = result.errors
        assert result.errors[stuck] == "validation_error"
        assert renewal_invoice(shop, lying).id == stuck
        assert shop.billing.subscriptions.get(honest.id).status is SubscriptionStatus.ACTIVE
        assert shop.invoice(stuck).status is InvoiceStatus.OPEN  # never paid unverified
    finally:
        shop.billing.close()
