"""A learner pays through the sandbox gateway, end to end on SQLite and PostgreSQL: the
invoice is paid only after verification, a receipt is issued and settlement is recorded;
3-D Secure, declines, fraud blocks, manual capture and replayed idempotency keys."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest

from lms_billing import TestClock
from lms_billing.domain.fraud import AmountThresholdRule, FraudOutcome
from lms_billing.domain.invoices import InvoiceStatus
from lms_billing.domain.payments import PaymentRequest, PaymentResult, PaymentStatus
from lms_billing.errors import (
    ConflictError,
    IdempotencyKeyMismatchError,
    InvalidStateTransitionError,
    PaymentBlockedError,
    PaymentDeclinedError,
    ProviderUnavailableError,
)
from lms_billing.providers.sandbox import SandboxGateway

from .support import NOW, EventLog, Shop, make_shop, sandbox_of


def test_learner_buys_a_course_with_a_saved_card(shop: Shop) -> None:
    billing = shop.billing
    method = billing.payments.attach_payment_method(
        shop.customer.id, "pm_card_visa", idempotency_key="attach-1"
    )
    assert (method.brand, method.last4, method.is_default) == ("visa", "4242", True)
    invoice = shop.open_invoice()
    payment = billing.payments.pay_invoice(invoice.id, idempotency_key="buy-1")

    assert payment.status is PaymentStatus.SUCCEEDED
    assert payment.verified and payment.receipt_id is not None
    assert (payment.amount, payment.amount_received, payment.currency) == (4900, 4900, "USD")
    assert payment.payment_method == method.token and payment.attempt == 1
    paid = shop.invoice(invoice.id)
    assert paid.status is InvoiceStatus.PAID and paid.amount_paid == 4900
    assert not paid.paid_out_of_band
    receipt = billing.invoices.list_receipts(invoice_id=invoice.id)[0]
    assert receipt.id == payment.receipt_id and receipt.amount_paid == 4900
    assert receipt.payment_id == payment.gateway_payment_id
    assert receipt.payment_method == "Visa \u2022\u2022\u2022\u2022 4242"
    settlement = payment.settlement
    assert settlement is not None
    # 2.9 % + 30 of 4900, half-up: 142 + 30.
    assert (settlement.currency, settlement.amount, settlement.fee) == ("USD", 4900, 172)
    assert settlement.net == 4900 - 172 and settlement.exchange_rate is None
    assert "payment.succeeded" in shop.log.types() and "invoice.paid" in shop.log.types()


def test_settlement_in_another_currency_records_the_fx_rate(storage_url: str) -> None:
    clock = TestClock(NOW)
    eur = SandboxGateway(
        name="sandbox_eu",
        clock=clock,
        settlement_currency="EUR",
        fx_rates={("USD", "EUR"): Decimal("0.9215")},
    )
    shop = make_shop(storage_url, gateways=(eur,), clock=clock)
    try:
        invoice = shop.open_invoice()
        payment = shop.billing.payments.pay_invoice(
            invoice.id, idempotency_key="eu-1", gateway="sandbox_eu", payment_method="pm_card_visa"
        )
        assert payment.status is PaymentStatus.SUCCEEDED
        settlement = payment.settlement
        assert settlement is not None
        # 49.00 USD x 0.9215 = 45.1535 EUR, half-up to the cent.
        assert (settlement.currency, settlement.amount) == ("EUR", 4515)
        assert settlement.exchange_rate == Decimal("0.9215")
        assert shop.invoice(invoice.id).status is InvoiceStatus.PAID
    finally:
        shop.billing.close()


def test_replayed_idempotency_key_returns_the_first_payment(shop: Shop) -> None:
    invoice = shop.open_invoice()
    first = shop.billing.payments.pay_invoice(
        invoice.id, idempotency_key="buy-1", payment_method="pm_card_visa"
    )
    again = shop.billing.payments.pay_invoice(
        invoice.id, idempotency_key="buy-1", payment_method="pm_card_visa"
    )
    assert again == first
    assert len(sandbox_of(shop).list_balance_transactions()) == 1  # charged once
    assert len(shop.billing.invoices.list_receipts(invoice_id=invoice.id)) == 1
    with pytest.raises(IdempotencyKeyMismatchError):
        shop.billing.payments.pay_invoice(
            invoice.id, idempotency_key="buy-1", payment_method="pm_card_mastercard"
        )
    with pytest.raises(InvalidStateTransitionError):  # paid: nothing left to charge
        shop.billing.payments.pay_invoice(
            invoice.id, idempotency_key="buy-2", payment_method="pm_card_visa"
        )


def test_three_d_secure_returns_the_next_action_then_confirms(shop: Shop) -> None:
    invoice = shop.open_invoice()
    payment = shop.billing.payments.pay_invoice(
        invoice.id,
        idempotency_key="3ds-1",
        payment_method="pm_card_threeDSecureRequired",
        return_url="https://lms.example/checkout/done",
    )
    assert payment.status is PaymentStatus.REQUIRES_ACTION
    assert payment.next_action is not None and payment.next_action.type == "redirect_to_url"
    assert payment.next_action.return_url == "https://lms.example/checkout/done"
    assert shop.invoice(invoice.id).status is InvoiceStatus.OPEN
    assert "invoice.payment_action_required" in shop.log.types()

    assert payment.gateway_payment_id is not None
    sandbox_of(shop).complete_authentication(payment.gateway_payment_id)
    confirmed = shop.billing.payments.confirm_payment(payment.id, idempotency_key="3ds-c")
    assert confirmed.status is PaymentStatus.SUCCEEDED and confirmed.receipt_id is not None
    assert shop.invoice(invoice.id).status is InvoiceStatus.PAID
    # Confirming again only syncs: nothing is paid twice.
    assert shop.billing.payments.confirm_payment(payment.id, idempotency_key="3ds-c") == confirmed
    assert len(shop.billing.invoices.list_receipts(invoice_id=invoice.id)) == 1


def test_a_declined_card_is_an_outcome_and_a_new_card_pays(shop: Shop) -> None:
    invoice = shop.open_invoice()
    declined = shop.billing.payments.pay_invoice(
        invoice.id,
        idempotency_key="try-1",
        payment_method="pm_card_chargeDeclinedInsufficientFunds",
    )
    assert declined.status is PaymentStatus.FAILED
    assert declined.decline_code == "insufficient_funds"
    assert shop.invoice(invoice.id).status is InvoiceStatus.OPEN
    assert shop.log.count("invoice.payment_failed") == 1
    paid = shop.billing.payments.pay_invoice(
        invoice.id, idempotency_key="try-2", payment_method="pm_card_visa"
    )
    assert paid.status is PaymentStatus.SUCCEEDED and paid.attempt == 2
    assert shop.invoice(invoice.id).status is InvoiceStatus.PAID


def test_fraud_block_is_recorded_and_never_reaches_the_gateway(storage_url: str) -> None:
    rule = AmountThresholdRule(review_above={"USD": 1000}, block_above={"USD": 4000})
    shop = make_shop(storage_url, log=EventLog(fraud_rules=[rule]))
    try:
        invoice = shop.open_invoice()
        with pytest.raises(PaymentBlockedError) as blocked:
            shop.billing.payments.pay_invoice(
                invoice.id, idempotency_key="f-1", payment_method="pm_card_visa"
            )
        assert blocked.value.details["reasons"] == ["amount_above_block_threshold"]
        [payment] = shop.billing.payments.list(invoice_id=invoice.id)
        assert payment.blocked and payment.status is PaymentStatus.FAILED
        assert payment.fraud.outcome is FraudOutcome.BLOCK
        assert payment.fraud.reasons[0].rule == "amount_threshold"
        assert sandbox_of(shop).list_balance_transactions() == []
        assert shop.invoice(invoice.id).status is InvoiceStatus.OPEN
        with pytest.raises(PaymentBlockedError):  # a replay is blocked again
            shop.billing.payments.pay_invoice(
                invoice.id, idempotency_key="f-1", payment_method="pm_card_visa"
            )
        assert "payment.blocked" in shop.log.types()
    finally:
        shop.billing.close()


def test_fraud_review_is_recorded_and_the_payment_proceeds(storage_url: str) -> None:
    shop = make_shop(storage_url, email="someone@mailinator.com")
    try:
        invoice = shop.open_invoice()
        payment = shop.billing.payments.pay_invoice(
            invoice.id, idempotency_key="r-1", payment_method="pm_card_visa"
        )
        assert payment.status is PaymentStatus.SUCCEEDED
        assert payment.fraud.outcome is FraudOutcome.REVIEW
        assert [r.code for r in payment.fraud.reasons] == ["disposable_email"]
        assert "payment.review" in shop.log.types()
    finally:
        shop.billing.close()


def test_manual_capture_pays_the_invoice_on_capture(shop: Shop) -> None:
    invoice = shop.open_invoice()
    authorized = shop.billing.payments.pay_invoice(
        invoice.id, idempotency_key="auth-1", payment_method="pm_card_visa", capture_method="manual"
    )
    assert authorized.status is PaymentStatus.REQUIRES_CAPTURE
    assert shop.invoice(invoice.id).status is InvoiceStatus.OPEN
    with pytest.raises(ConflictError):  # an authorization already collects the invoice
        shop.billing.payments.pay_invoice(
            invoice.id, idempotency_key="auth-2", payment_method="pm_card_visa"
        )
    captured = shop.billing.payments.capture(authorized.id, idempotency_key="cap-1")
    assert captured.status is PaymentStatus.SUCCEEDED and captured.receipt_id is not None
    assert shop.invoice(invoice.id).status is InvoiceStatus.PAID


def test_after_a_partial_capture_the_rest_of_the_invoice_is_collected(shop: Shop) -> None:
    invoice = shop.open_invoice()
    authorized = shop.billing.payments.pay_invoice(
        invoice.id, idempotency_key="auth", payment_method="pm_card_visa", capture_method="manual"
    )
    captured = shop.billing.payments.capture(authorized.id, 2000, idempotency_key="cap")
    assert captured.status is PaymentStatus.SUCCEEDED and captured.receipt_id is not None
    partly = shop.invoice(invoice.id)
    assert (partly.status, partly.amount_paid, partly.amount_remaining) == (
        InvoiceStatus.OPEN,
        2000,
        2900,
    )
    rest = shop.billing.payments.pay_invoice(
        invoice.id, idempotency_key="rest", payment_method="pm_card_visa"
    )
    assert (rest.status, rest.amount, rest.attempt) == (PaymentStatus.SUCCEEDED, 2900, 2)
    paid = shop.invoice(invoice.id)
    assert (paid.status, paid.amount_paid) == (InvoiceStatus.PAID, 4900)
    receipts = shop.billing.invoices.list_receipts(invoice_id=invoice.id)
    assert sorted(r.amount_paid for r in receipts) == [2000, 2900]
    with pytest.raises(InvalidStateTransitionError):  # nothing left to collect
        shop.billing.payments.pay_invoice(
            invoice.id, idempotency_key="more", payment_method="pm_card_visa"
        )


def test_a_provider_timeout_is_retried_with_the_same_key_without_double_charge(
    shop: Shop,
) -> None:
    invoice = shop.open_invoice()
    with pytest.raises(ProviderUnavailableError):
        shop.billing.payments.pay_invoice(
            invoice.id, idempotency_key="t-1", payment_method="pm_card_timeout"
        )
    [pending] = shop.billing.payments.list(invoice_id=invoice.id)
    assert pending.gateway_payment_id is None
    assert pending.status is PaymentStatus.REQUIRES_CONFIRMATION
    # The same key resumes the same attempt (and the same gateway idempotency key).
    with pytest.raises(ProviderUnavailableError):
        shop.billing.payments.pay_invoice(
            invoice.id, idempotency_key="t-1", payment_method="pm_card_timeout"
        )
    assert len(shop.billing.payments.list(invoice_id=invoice.id)) == 1


def test_expiring_cards_are_announced_once(shop: Shop) -> None:
    method = shop.billing.payments.attach_payment_method(
        shop.customer.id, "pm_card_visa", idempotency_key="a-1"
    )
    assert (method.exp_month, method.exp_year) == (12, 2034)
    assert shop.billing.payments.check_expiring_payment_methods() == []
    shop.clock.set(NOW.replace(year=2034, month=11, day=20))
    [announced] = shop.billing.payments.check_expiring_payment_methods()
    assert announced.id == method.id
    assert shop.billing.payments.check_expiring_payment_methods() == []
    assert shop.log.count("customer.payment_method.expiring") == 1
    shop.clock.advance(timedelta(days=5))
    assert shop.billing.payments.check_expiring_payment_methods() == []


def test_detached_methods_are_kept_inactive_and_the_default_moves(shop: Shop) -> None:
    payments = shop.billing.payments
    visa = payments.attach_payment_method(shop.customer.id, "pm_card_visa", idempotency_key="a")
    master = payments.attach_payment_method(
        shop.customer.id, "pm_card_mastercard", idempotency_key="b", set_default=True
    )
    listed = {m.id: m.is_default for m in payments.list_payment_methods(shop.customer.id)}
    assert listed == {visa.id: False, master.id: True}
    payments.set_default_payment_method(visa.id)
    assert payments.default_payment_method(shop.customer.id) == payments.list_payment_methods(
        shop.customer.id
    )[1].model_copy(update={"is_default": True})
    detached = payments.detach_payment_method(visa.id, idempotency_key="d")
    assert not detached.active and not detached.is_default
    assert [m.id for m in payments.list_payment_methods(shop.customer.id)] == [master.id]


def test_buy_refund_and_webhooks_in_memory_storage() -> None:
    shop = make_shop("memory://")
    try:
        invoice = shop.open_invoice()
        payment = shop.billing.payments.pay_invoice(
            invoice.id, idempotency_key="m-1", payment_method="pm_card_visa"
        )
        assert shop.invoice(invoice.id).status is InvoiceStatus.PAID
        refund = shop.billing.payments.refund(payment.id, 900, idempotency_key="m-r")
        assert refund.credit_note_id is not None
        deliveries = sandbox_of(shop).take_webhooks()
        actions = [
            shop.billing.payments.handle_webhook("sandbox", d.payload, d.headers).action
            for d in deliveries + deliveries
        ]
        assert actions[len(deliveries) :] == ["duplicate"] * len(deliveries)
        assert shop.billing.payments.get(payment.id).refundable_amount == 4000
    finally:
        shop.billing.close()


def test_concurrent_payments_of_one_invoice_charge_once(shop: Shop) -> None:
    invoice = shop.open_invoice()
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def pay(index: int) -> None:
        barrier.wait()
        try:
            payment = shop.billing.payments.pay_invoice(
                invoice.id, idempotency_key=f"race-{index}", payment_method="pm_card_visa"
            )
            outcomes.append(payment.status.value)
        except (ConflictError, InvalidStateTransitionError) as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=pay, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("succeeded") == 1
    assert len(sandbox_of(shop).list_balance_transactions()) == 1
    assert len(shop.billing.invoices.list_receipts(invoice_id=invoice.id)) == 1


class RaisingGateway(SandboxGateway):
    """A plugin gateway that breaks the port rule and raises its declines."""

    def create_payment(self, request: PaymentRequest) -> PaymentResult:
        raise PaymentDeclinedError("Do not honor.", decline_code="do_not_honor")


def test_a_gateway_raising_a_decline_still_ends_the_attempt_as_failed(storage_url: str) -> None:
    clock = TestClock(NOW)
    shop = make_shop(storage_url, gateways=(RaisingGateway(name="raising", clock=clock),))
    try:
        invoice = shop.open_invoice()
        failed = shop.billing.payments.pay_invoice(
            invoice.id, gateway="raising", payment_method="pm_card_visa", idempotency_key="r-1"
        )
        assert (failed.status, failed.decline_code) == (PaymentStatus.FAILED, "do_not_honor")
        assert not failed.collecting and failed.gateway_payment_id is None
        assert shop.log.count("invoice.payment_failed") == 1
        paid = shop.billing.payments.pay_invoice(
            invoice.id, payment_method="pm_card_visa", idempotency_key="r-2"
        )
        assert paid.status is PaymentStatus.SUCCEEDED
    finally:
        shop.billing.close()
