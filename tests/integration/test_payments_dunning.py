"""A renewal fails and recovers through dunning, driven by the real billing run on a test
clock: GatewayCollector notes renewal invoices inside the batch, collect_due charges them
after it committed; retries follow the DunningPolicy (1, 3, 5, 7 days), hard declines are
not retried, and the policy's final action applies when the schedule is exhausted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from payments_support import Shop, make_shop

from lms_billing.domain.dunning import DunningFinalAction, DunningPolicy
from lms_billing.domain.invoices import Invoice, InvoiceStatus
from lms_billing.domain.payment_records import DunningState, DunningStatus
from lms_billing.domain.subscriptions import Subscription, SubscriptionStatus
from lms_billing.services.payments import PaymentSettings
from lms_billing.storage.base import MAX_LIST_LIMIT


@pytest.fixture
def shop(storage_url: str) -> Iterator[Shop]:
    opened = make_shop(storage_url)
    yield opened
    opened.billing.close()


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
