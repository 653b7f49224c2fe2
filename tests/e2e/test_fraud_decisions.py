"""Fraud decisions through `Billing`, recorded with their reasons: the provider's own risk
verdict (Radar-like, judged after authorisation) and the pre-gateway rules fed with real
history (only declines count as declines) and with unsaved cards' details."""

from __future__ import annotations

import pytest

from lms_billing.domain.fraud import FraudOutcome
from lms_billing.domain.invoices import InvoiceStatus
from lms_billing.domain.payments import PaymentStatus
from lms_billing.errors import PaymentBlockedError
from lms_billing.services.payments import PaymentSettings

from .support import Shop, sandbox_of


def test_elevated_provider_risk_is_recorded_for_review(shop: Shop) -> None:
    invoice = shop.open_invoice()
    payment = shop.billing.payments.pay_invoice(
        invoice.id, idempotency_key="k", payment_method="pm_card_riskLevelElevated"
    )
    assert payment.status is PaymentStatus.SUCCEEDED  # review proceeds by default
    assert payment.risk is not None and payment.risk.level == "elevated"
    assert payment.fraud.outcome is FraudOutcome.REVIEW
    assert [(r.rule, r.code) for r in payment.fraud.reasons] == [
        ("provider_risk", "provider_risk_elevated")
    ]
    assert shop.log.count("payment.review") == 1
    # Re-reading the payment (a webhook, confirm) does not judge it twice.
    again = shop.billing.payments.sync_payment(payment.id)
    assert again.fraud == payment.fraud and shop.log.count("payment.review") == 1
    assert shop.invoice(invoice.id).status is InvoiceStatus.PAID


def test_highest_provider_risk_blocks_and_is_recorded(shop: Shop) -> None:
    invoice = shop.open_invoice()
    payment = shop.billing.payments.pay_invoice(
        invoice.id, idempotency_key="k", payment_method="pm_card_riskLevelHighest"
    )
    assert (payment.status, payment.decline_code) == (PaymentStatus.FAILED, "fraudulent")
    assert payment.fraud.outcome is FraudOutcome.BLOCK
    assert [r.code for r in payment.fraud.reasons] == ["provider_risk_highest"]
    assert "highest" in payment.fraud.reasons[0].message
    assert shop.log.count("payment.blocked") == 1


def test_a_review_set_to_block_releases_the_authorization(shop: Shop) -> None:
    shop.billing.payments.settings = PaymentSettings(review_action="block")
    invoice = shop.open_invoice()
    payment = shop.billing.payments.pay_invoice(
        invoice.id,
        idempotency_key="k",
        payment_method="pm_card_riskLevelElevated",
        capture_method="manual",
    )
    assert payment.status is PaymentStatus.CANCELED and not payment.collecting
    assert payment.fraud.outcome is FraudOutcome.REVIEW
    held = sandbox_of(shop).retrieve_payment(payment.gateway_payment_id or "")
    assert held.status is PaymentStatus.CANCELED and held.amount_received == 0
    assert shop.invoice(invoice.id).status is InvoiceStatus.OPEN
    # The invoice is free for another attempt.
    paid = shop.billing.payments.pay_invoice(
        invoice.id, idempotency_key="k2", payment_method="pm_card_visa"
    )
    assert paid.status is PaymentStatus.SUCCEEDED


def test_provider_risk_can_be_switched_off(shop: Shop) -> None:
    shop.billing.payments.settings = PaymentSettings(provider_risk_rule=None)
    invoice = shop.open_invoice()
    payment = shop.billing.payments.pay_invoice(
        invoice.id, idempotency_key="k", payment_method="pm_card_riskLevelElevated"
    )
    assert payment.fraud.outcome is FraudOutcome.ALLOW and shop.log.count("payment.review") == 0


def test_unfinished_three_d_secure_checkouts_are_not_declines(shop: Shop) -> None:
    for attempt in range(3):
        pending = shop.billing.payments.pay_invoice(
            shop.open_invoice().id,
            idempotency_key=f"3ds-{attempt}",
            payment_method="pm_card_threeDSecureRequired",
        )
        assert pending.status is PaymentStatus.REQUIRES_ACTION
    paid = shop.billing.payments.pay_invoice(
        shop.open_invoice().id, idempotency_key="visa", payment_method="pm_card_visa"
    )
    assert paid.status is PaymentStatus.SUCCEEDED
    assert "too_many_declines" not in [r.code for r in paid.fraud.reasons]


def test_three_declines_block_the_fourth_attempt(shop: Shop) -> None:
    for attempt in range(3):
        declined = shop.billing.payments.pay_invoice(
            shop.open_invoice().id,
            idempotency_key=f"d-{attempt}",
            payment_method="pm_card_chargeDeclined",
        )
        assert declined.status is PaymentStatus.FAILED
    with pytest.raises(PaymentBlockedError) as blocked:
        shop.billing.payments.pay_invoice(
            shop.open_invoice().id, idempotency_key="visa", payment_method="pm_card_visa"
        )
    assert blocked.value.details["reasons"] == ["too_many_declines"]


def test_an_unsaved_card_is_judged_like_a_saved_one(shop: Shop) -> None:
    # A card issued in Germany entered at checkout by a learner billed in the US.
    payment = shop.billing.payments.pay_invoice(
        shop.open_invoice().id,
        idempotency_key="de-1",
        payment_method="pm_card_de",
        ip_country="US",
    )
    assert payment.status is PaymentStatus.SUCCEEDED
    assert payment.card_fingerprint is not None  # looked up before the charge
    assert payment.fraud.outcome is FraudOutcome.REVIEW
    assert [r.code for r in payment.fraud.reasons] == ["country_mismatch"]
    assert "card DE" in payment.fraud.reasons[0].message


def test_card_velocity_counts_an_unsaved_card_across_learners(shop: Shop) -> None:
    fingerprints = set()
    for n in range(6):
        learner = shop.billing.customers.create(
            {"external_id": f"learner-v{n}", "email": f"v{n}@example.org"},
            idempotency_key=f"cv-{n}",
        )
        payment = shop.billing.payments.pay_invoice(
            shop.open_invoice(customer_id=learner.id).id,
            idempotency_key=f"v-{n}",
            payment_method="pm_card_visa",
        )
        fingerprints.add(payment.card_fingerprint)
    assert len(fingerprints) == 1 and None not in fingerprints
    # The sixth use of the same card within the hour goes to review.
    assert [(r.rule, r.code) for r in payment.fraud.reasons] == [
        ("velocity_card", "velocity_exceeded")
    ]
