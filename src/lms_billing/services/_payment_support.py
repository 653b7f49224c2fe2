"""Helpers shared by the payment services: settings, fraud context, applying a gateway's
report to our payment record, settlement data and events. Private."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from lms_billing.domain.card_data import contains_card_number
from lms_billing.domain.customers import Customer
from lms_billing.domain.dunning import DunningPolicy
from lms_billing.domain.events import Event
from lms_billing.domain.fraud import (
    FraudContext,
    FraudOutcome,
    FraudVerdict,
    PaymentAttempt,
    ProviderRiskRule,
    default_rules,
    evaluate_rules,
)
from lms_billing.domain.payment_records import (
    FraudRecord,
    Payment,
    Settlement,
    StoredPaymentMethod,
)
from lms_billing.domain.payment_rules import status_supersedes
from lms_billing.domain.payments import (
    BalanceTransaction,
    PaymentMethodDetails,
    PaymentResult,
    PaymentStatus,
)
from lms_billing.ids import new_id
from lms_billing.ports import FraudRule
from lms_billing.services._context import ServiceContext
from lms_billing.storage.base import MAX_LIST_LIMIT, UnitOfWork

ReviewAction = Literal["proceed", "block"]


@dataclass(frozen=True)
class PaymentSettings:
    """How the payment services behave.

    :param dunning: the retry schedule and final action for failed renewals.
    :param review_action: what a fraud ``review`` verdict does: ``proceed`` (record it and
        charge; someone reviews later) or ``block`` (treat it like a block).
    :param use_default_fraud_rules: evaluate :func:`lms_billing.domain.fraud.default_rules`
        in addition to the rules plugins register through ``lms_billing_fraud_rules``.
    :param fraud_rules: more rules evaluated on every attempt.
    :param fraud_history: how far back velocity and decline rules look.
    :param expiring_card_months: ``check_expiring_payment_methods`` warns about cards that
        expire this month or within this many more months.
    :param collection_retry_delay: after a provider outage, how long ``collect_due`` waits
        before it resumes the same attempt (same idempotency key, so at most one charge).
    :param pending_check_interval: how often ``collect_due`` re-reads a renewal payment
        that is still in flight at the provider (``processing``, ``requires_capture``) when
        no webhook has resolved it.
    :param provider_risk_rule: judges the provider's own risk signal (Stripe Radar's
        ``outcome.risk_level`` / ``outcome.type``) once the provider reports it, after
        authorisation; ``None`` ignores provider risk.
    """

    dunning: DunningPolicy = field(default_factory=DunningPolicy)
    review_action: ReviewAction = "proceed"
    use_default_fraud_rules: bool = True
    fraud_rules: Sequence[FraudRule] = ()
    fraud_history: timedelta = timedelta(hours=24)
    expiring_card_months: int = 1
    collection_retry_delay: timedelta = timedelta(minutes=15)
    pending_check_interval: timedelta = timedelta(hours=1)
    provider_risk_rule: ProviderRiskRule | None = field(default_factory=ProviderRiskRule)


def event(type: str, at: datetime, customer_id: str | None, **data: object) -> Event:
    return Event(id=new_id("evt"), type=type, created_at=at, customer_id=customer_id, data=data)


def publish(ctx: ServiceContext, events: Sequence[Event]) -> None:
    """Hand events to plugins; call only after the unit of work committed."""
    for item in events:
        ctx.plugins.emit_event(item)


def reference_metadata(**ids: str) -> dict[str, str]:
    """Our ids for the provider's metadata (reconciliation, early webhooks).

    Ids are random hex, and about one in a few hundred contains a Luhn-valid run of 13+
    digits that the card-data guard would refuse; such an id is left out rather than
    failing a legitimate payment (lookups fall back to the provider's own id).
    """
    return {key: value for key, value in ids.items() if not contains_card_number(value)}


def settlement_from(txn: BalanceTransaction | None) -> Settlement | None:
    """Settlement currency, amount, fee and FX rate from the provider's balance transaction."""
    if txn is None:
        return None
    return Settlement(
        balance_transaction_id=txn.id,
        amount=txn.amount,
        fee=txn.fee,
        net=txn.net,
        currency=txn.currency,
        exchange_rate=txn.exchange_rate,
    )


def evaluate_fraud(
    ctx: ServiceContext,
    settings: PaymentSettings,
    uow: UnitOfWork,
    *,
    now: datetime,
    amount: int,
    currency: str,
    customer: Customer,
    method: StoredPaymentMethod | None,
    card: PaymentMethodDetails | None,
    payment_method: str | None,
    ip_address: str | None,
    ip_country: str | None,
) -> FraudVerdict:
    """Run the fraud hook's rules (and the defaults) with the recent attempts as history.

    The card is the saved ``method`` or, for a token entered at checkout, what the gateway
    said it stands for (``card``)."""
    history = uow.payments.created_since(now - settings.fraud_history, MAX_LIST_LIMIT)
    attempts = tuple(
        PaymentAttempt(
            at=p.created_at,
            customer_id=p.customer_id,
            card_fingerprint=p.card_fingerprint,
            ip_address=p.ip_address,
            succeeded=p.status is PaymentStatus.SUCCEEDED,
            declined=p.status is PaymentStatus.FAILED,
            decline_code=p.decline_code,
        )
        for p in history
        if not p.blocked
    )
    context = FraudContext(
        now=now,
        amount=amount,
        currency=currency,
        customer_id=customer.id,
        email=customer.email,
        ip_address=ip_address,
        ip_country=ip_country,
        card_country=method.country if method is not None else card and card.country,
        billing_country=None if customer.address is None else customer.address.country,
        card_fingerprint=method.fingerprint if method is not None else card and card.fingerprint,
        payment_method=payment_method,
        recent_attempts=attempts,
    )
    rules: list[FraudRule] = list(ctx.plugins.fraud_rules())
    if settings.use_default_fraud_rules:
        rules.extend(default_rules())
    rules.extend(settings.fraud_rules)
    return evaluate_rules(rules, context)


def is_blocking(verdict: FraudVerdict, settings: PaymentSettings) -> bool:
    if verdict.outcome is FraudOutcome.BLOCK:
        return True
    return verdict.outcome is FraudOutcome.REVIEW and settings.review_action == "block"


def fraud_record(verdict: FraudVerdict) -> FraudRecord:
    return FraudRecord(outcome=verdict.outcome, reasons=verdict.reasons)


def judge_provider_risk(
    settings: PaymentSettings, payment: Payment, now: datetime
) -> tuple[Payment, FraudOutcome | None]:
    """Fold the provider's risk verdict (Radar) into the payment's fraud record.

    Returns the payment (reasons added once, the strictest outcome kept) and the outcome
    it was *raised* to, or ``None`` when nothing got stricter.
    """
    rule = settings.provider_risk_rule
    if rule is None or payment.risk is None:
        return payment, None
    verdict = rule.evaluate(
        FraudContext(
            now=now,
            amount=payment.amount,
            currency=payment.currency,
            customer_id=payment.customer_id,
            provider_risk=payment.risk,
        )
    )
    if verdict is None:
        return payment, None
    seen = {(reason.rule, reason.code) for reason in payment.fraud.reasons}
    added = tuple(r for r in verdict.reasons if (r.rule, r.code) not in seen)
    if not added:
        return payment, None
    before = payment.fraud.outcome
    outcome = verdict.outcome if verdict.outcome.severity > before.severity else before
    record = FraudRecord(outcome=outcome, reasons=payment.fraud.reasons + added)
    raised = outcome if outcome is not before else None
    return payment.model_copy(update={"fraud": record}), raised


def apply_result(payment: Payment, result: PaymentResult, now: datetime) -> Payment:
    """Our payment updated from what the gateway reports, moving only forward.

    The first report (no ``gateway_payment_id`` yet) is always taken. Later ones change the
    status only when :func:`status_supersedes` allows it, so a stale report (a late
    ``processing``) never undoes ``succeeded``; settlement and risk are filled in when the
    provider adds them.
    """
    first = payment.gateway_payment_id is None
    moves = first or status_supersedes(
        payment.status,
        result.status,
        current_at=payment.gateway_updated_at,
        incoming_at=now,
    )
    changes: dict[str, object] = {"updated_at": now}
    if payment.settlement is None and result.balance_transaction is not None:
        changes["settlement"] = settlement_from(result.balance_transaction)
    if result.risk is not None:
        changes["risk"] = result.risk
    if moves:
        changes.update(
            # The provider's id is fixed by the first report (later ones may name a capture).
            gateway_payment_id=payment.gateway_payment_id or result.id,
            status=result.status,
            amount_received=result.amount_received,
            next_action=result.next_action,
            decline_code=result.decline_code,
            failure_code=result.failure_code,
            failure_message=result.failure_message,
            gateway_customer_id=result.customer_id or payment.gateway_customer_id,
            gateway_updated_at=now,
        )
    return payment.model_copy(update=changes)


def status_event(payment: Payment) -> str | None:
    """The event announcing a payment's (new) status, if it is one callers act on."""
    return {
        PaymentStatus.SUCCEEDED: "payment.succeeded",
        PaymentStatus.FAILED: "payment.failed",
        PaymentStatus.REQUIRES_ACTION: "payment.requires_action",
        PaymentStatus.REQUIRES_CAPTURE: "payment.requires_capture",
        PaymentStatus.PROCESSING: "payment.processing",
        PaymentStatus.CANCELED: "payment.canceled",
    }.get(payment.status)


def payment_data(payment: Payment) -> dict[str, object]:
    """Event data for a payment (no card data is ever in a payment record)."""
    return {"object": payment.model_dump(mode="json")}


__all__ = [
    "PaymentSettings",
    "ReviewAction",
    "apply_result",
    "evaluate_fraud",
    "event",
    "fraud_record",
    "is_blocking",
    "judge_provider_risk",
    "payment_data",
    "publish",
    "reference_metadata",
    "settlement_from",
    "status_event",
]
