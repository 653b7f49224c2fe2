"""Fraud rules: a pure engine that decides allow, review or block before a payment attempt.

Each rule (any object with ``name`` and ``evaluate(context)``, see
:class:`lms_billing.ports.FraudRule`) returns a :class:`FraudVerdict` or ``None`` when it has
nothing to say. :func:`evaluate_rules` runs every rule; the strictest outcome wins
(block > review > allow) and every reason is kept, so the payment records *why*.

Rules read history from the context (recent attempts) instead of querying storage, so they
are pure and testable: the payment service loads the history and passes ``now``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lms_billing.domain.payments import RiskLevel, RiskOutcome
from lms_billing.money import CurrencyCode, MinorUnits

if TYPE_CHECKING:
    from lms_billing.ports import FraudRule


class FraudOutcome(StrEnum):
    ALLOW = "allow"
    REVIEW = "review"
    BLOCK = "block"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {FraudOutcome.ALLOW: 0, FraudOutcome.REVIEW: 1, FraudOutcome.BLOCK: 2}


class FraudReason(BaseModel):
    """One rule's finding, e.g. ``velocity_card``: "5 attempts with this card in 1:00:00"."""

    model_config = ConfigDict(frozen=True)

    rule: str
    outcome: FraudOutcome
    code: str
    message: str


class FraudVerdict(BaseModel):
    """The decision and every reason behind it."""

    model_config = ConfigDict(frozen=True)

    outcome: FraudOutcome = FraudOutcome.ALLOW
    reasons: tuple[FraudReason, ...] = ()

    @classmethod
    def flag(cls, rule: str, outcome: FraudOutcome, code: str, message: str) -> FraudVerdict:
        """A verdict with one reason (the usual return value of a rule)."""
        return cls(
            outcome=outcome,
            reasons=(FraudReason(rule=rule, outcome=outcome, code=code, message=message),),
        )

    @property
    def allowed(self) -> bool:
        return self.outcome is FraudOutcome.ALLOW


class PaymentAttempt(BaseModel):
    """A past payment attempt, as recorded by the payment service (for velocity rules).

    ``declined`` says the attempt ended declined (failed at the provider); an attempt still
    waiting for 3-D Secure, in flight or canceled is neither succeeded nor declined. When
    not given it is ``True`` exactly when a ``decline_code`` is.
    """

    model_config = ConfigDict(frozen=True)

    at: datetime
    customer_id: str | None = None
    card_fingerprint: str | None = None
    ip_address: str | None = None
    succeeded: bool = False
    declined: bool = False
    decline_code: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _declined_by_default(cls, data: Any) -> Any:
        if isinstance(data, dict) and "declined" not in data:
            return {**data, "declined": data.get("decline_code") is not None}
        return data


class FraudContext(BaseModel):
    """Everything the rules may look at for one payment attempt. Countries are ISO 3166-1."""

    model_config = ConfigDict(frozen=True)

    now: datetime
    amount: MinorUnits
    currency: CurrencyCode
    customer_id: str | None = None
    email: str | None = None
    ip_address: str | None = None
    ip_country: str | None = None
    card_country: str | None = None
    billing_country: str | None = None
    card_fingerprint: str | None = None
    payment_method: str | None = None
    provider_risk: RiskOutcome | None = None
    recent_attempts: tuple[PaymentAttempt, ...] = Field(
        default=(), description="Earlier attempts (any customer), newest or oldest first."
    )


def evaluate_rules(rules: Iterable[FraudRule], context: FraudContext) -> FraudVerdict:
    """Run every rule; the strictest outcome wins and all reasons are kept, in rule order."""
    reasons: list[FraudReason] = []
    outcome = FraudOutcome.ALLOW
    for rule in rules:
        verdict = rule.evaluate(context)
        if verdict is None:
            continue
        reasons.extend(verdict.reasons)
        if verdict.outcome.severity > outcome.severity:
            outcome = verdict.outcome
    return FraudVerdict(outcome=outcome, reasons=tuple(reasons))


# --- built-in rules ----------------------------------------------------------------------

VelocityKey = Literal["customer", "card", "ip"]


def _key_of(attempt: PaymentAttempt | FraudContext, key: VelocityKey) -> str | None:
    if key == "customer":
        return attempt.customer_id
    if key == "card":
        return attempt.card_fingerprint
    return attempt.ip_address


@dataclass
class VelocityRule:
    """Too many attempts for one customer, card fingerprint or IP within ``window``.

    The current attempt counts: ``max_attempts=5`` flags the sixth attempt in the window.
    """

    key: VelocityKey
    max_attempts: int = 5
    window: timedelta = timedelta(hours=1)
    outcome: FraudOutcome = FraudOutcome.REVIEW
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or f"velocity_{self.key}"

    def evaluate(self, context: FraudContext) -> FraudVerdict | None:
        value = _key_of(context, self.key)
        if value is None:
            return None
        since = context.now - self.window
        count = 1 + sum(
            1
            for attempt in context.recent_attempts
            if since < attempt.at <= context.now and _key_of(attempt, self.key) == value
        )
        if count <= self.max_attempts:
            return None
        return FraudVerdict.flag(
            self.name,
            self.outcome,
            "velocity_exceeded",
            f"{count} attempts by this {self.key} within {self.window} "
            f"(limit {self.max_attempts}).",
        )


@dataclass
class CountryMismatchRule:
    """Card issuing country, IP country and billing country disagree.

    Only known countries are compared. Two countries that differ give ``outcome``; three
    different countries give ``all_different_outcome``.
    """

    outcome: FraudOutcome = FraudOutcome.REVIEW
    all_different_outcome: FraudOutcome = FraudOutcome.BLOCK
    name: str = "country_mismatch"

    def evaluate(self, context: FraudContext) -> FraudVerdict | None:
        known = {
            label: country.upper()
            for label, country in (
                ("card", context.card_country),
                ("ip", context.ip_country),
                ("billing", context.billing_country),
            )
            if country
        }
        distinct = set(known.values())
        if len(distinct) <= 1:
            return None
        outcome = self.all_different_outcome if len(distinct) == 3 else self.outcome
        detail = ", ".join(f"{label} {country}" for label, country in known.items())
        return FraudVerdict.flag(
            self.name, outcome, "country_mismatch", f"Countries differ: {detail}."
        )


@dataclass
class AmountThresholdRule:
    """Amounts above a per-currency threshold (minor units) go to review or are blocked.

    ``review_above={"USD": 50_000}`` reviews payments over USD 500.00. Currencies with no
    threshold are not judged (no FX guess inside a fraud rule).
    """

    review_above: Mapping[str, int] = field(default_factory=dict)
    block_above: Mapping[str, int] = field(default_factory=dict)
    name: str = "amount_threshold"

    def evaluate(self, context: FraudContext) -> FraudVerdict | None:
        block = self.block_above.get(context.currency)
        if block is not None and context.amount > block:
            return FraudVerdict.flag(
                self.name,
                FraudOutcome.BLOCK,
                "amount_above_block_threshold",
                f"{context.amount} {context.currency} is above the block threshold {block}.",
            )
        review = self.review_above.get(context.currency)
        if review is not None and context.amount > review:
            return FraudVerdict.flag(
                self.name,
                FraudOutcome.REVIEW,
                "amount_above_review_threshold",
                f"{context.amount} {context.currency} is above the review threshold {review}.",
            )
        return None


@dataclass
class TooManyDeclinesRule:
    """Card testing: many declined attempts by this customer or card within ``window``.

    Only declines count: unfinished 3-D Secure checkouts and payments in flight do not.
    """

    max_declines: int = 3
    window: timedelta = timedelta(hours=24)
    outcome: FraudOutcome = FraudOutcome.BLOCK
    name: str = "too_many_declines"

    def evaluate(self, context: FraudContext) -> FraudVerdict | None:
        since = context.now - self.window

        def same_payer(attempt: PaymentAttempt) -> bool:
            return (
                context.customer_id is not None and attempt.customer_id == context.customer_id
            ) or (
                context.card_fingerprint is not None
                and attempt.card_fingerprint == context.card_fingerprint
            )

        declines = sum(
            1
            for attempt in context.recent_attempts
            if attempt.declined and since < attempt.at <= context.now and same_payer(attempt)
        )
        if declines < self.max_declines:
            return None
        return FraudVerdict.flag(
            self.name,
            self.outcome,
            "too_many_declines",
            f"{declines} declined attempts within {self.window} (limit {self.max_declines}).",
        )


DISPOSABLE_EMAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "10minutemail.com",
        "discard.email",
        "dispostable.com",
        "fakeinbox.com",
        "getnada.com",
        "guerrillamail.com",
        "maildrop.cc",
        "mailinator.com",
        "mintemail.com",
        "mohmal.com",
        "sharklasers.com",
        "temp-mail.org",
        "tempmail.com",
        "throwawaymail.com",
        "trashmail.com",
        "yopmail.com",
    }
)
"""A small starter list; pass your own (e.g. from a maintained list) to the rule."""


@dataclass
class DisposableEmailRule:
    """The payer's email is at a disposable-address domain (or a subdomain of one)."""

    domains: frozenset[str] = DISPOSABLE_EMAIL_DOMAINS
    outcome: FraudOutcome = FraudOutcome.REVIEW
    name: str = "disposable_email"

    def evaluate(self, context: FraudContext) -> FraudVerdict | None:
        if not context.email or "@" not in context.email:
            return None
        domain = context.email.rsplit("@", 1)[1].strip().lower().rstrip(".")
        parts = domain.split(".")
        candidates = {".".join(parts[i:]) for i in range(len(parts) - 1)}
        if not candidates & self.domains:
            return None
        return FraudVerdict.flag(
            self.name, self.outcome, "disposable_email", f"{domain} is a disposable email domain."
        )


@dataclass
class ProviderRiskRule:
    """The provider's own signal (Stripe Radar): ``highest`` risk or a provider block blocks,
    ``elevated`` risk or a provider ``manual_review`` goes to review."""

    elevated: FraudOutcome = FraudOutcome.REVIEW
    highest: FraudOutcome = FraudOutcome.BLOCK
    name: str = "provider_risk"

    def evaluate(self, context: FraudContext) -> FraudVerdict | None:
        risk = context.provider_risk
        if risk is None:
            return None
        described = f"Provider risk {risk.level.value} ({risk.outcome_type or 'no outcome'})."
        if risk.level is RiskLevel.HIGHEST or risk.outcome_type == "blocked":
            return FraudVerdict.flag(self.name, self.highest, "provider_risk_highest", described)
        if risk.level is RiskLevel.ELEVATED or risk.outcome_type == "manual_review":
            return FraudVerdict.flag(self.name, self.elevated, "provider_risk_elevated", described)
        return None


def default_rules() -> list[FraudRule]:
    """A sensible starting set; register your own through ``lms_billing_fraud_rules``."""
    return [
        VelocityRule("customer", max_attempts=5, window=timedelta(hours=1)),
        VelocityRule("card", max_attempts=5, window=timedelta(hours=1)),
        VelocityRule("ip", max_attempts=10, window=timedelta(hours=1)),
        CountryMismatchRule(),
        TooManyDeclinesRule(),
        DisposableEmailRule(),
        ProviderRiskRule(),
    ]


__all__ = [
    "DISPOSABLE_EMAIL_DOMAINS",
    "AmountThresholdRule",
    "CountryMismatchRule",
    "DisposableEmailRule",
    "FraudContext",
    "FraudOutcome",
    "FraudReason",
    "FraudVerdict",
    "PaymentAttempt",
    "ProviderRiskRule",
    "TooManyDeclinesRule",
    "VelocityRule",
    "default_rules",
    "evaluate_rules",
]
