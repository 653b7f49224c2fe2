"""The sandbox gateway's magic test tokens and amounts, modelled on Stripe's test cards.

Pass a token as ``PaymentRequest.payment_method`` (or attach it to a customer first). Any
other token is refused as an invalid request, like an unknown ``pm_...`` at Stripe.

==================================================  =========================================
token                                               behaviour
==================================================  =========================================
``pm_card_visa``, ``pm_card_mastercard``,           succeeds (US cards)
``pm_card_amex``
``pm_card_de``, ``pm_card_gb``                      succeeds; card issued in DE / GB
``pm_card_chargeDeclined``                          declined, ``generic_decline``
``pm_card_chargeDeclinedInsufficientFunds``         declined, ``insufficient_funds``
``pm_card_chargeDeclinedStolenCard``                declined, ``stolen_card``
``pm_card_chargeDeclinedLostCard``                  declined, ``lost_card``
``pm_card_chargeDeclinedFraudulent``                declined, ``fraudulent``
``pm_card_chargeDeclinedExpiredCard``               declined, ``expired_card``
``pm_card_chargeDeclinedProcessingError``           declined, ``processing_error``
``pm_card_chargeDeclinedDoNotHonor``                declined, ``do_not_honor``
``pm_card_threeDSecureRequired``                    ``requires_action`` (3-D Secure) on
                                                    session; ``authentication_required``
                                                    decline off session
``pm_card_riskLevelElevated``                       succeeds with Radar-like risk ``elevated``
``pm_card_riskLevelHighest``                        blocked: risk ``highest``, ``fraudulent``
``pm_card_captureFails``                            authorizes; capture fails (auth expired)
``pm_card_timeout``                                 raises ``ProviderUnavailableError``
``pm_debit_processing``                             an async debit (SEPA, ACH): ``processing``
                                                    until ``complete_processing`` settles or
                                                    fails it
==================================================  =========================================

Stripe's ``pm_card_visa_chargeDeclined...`` spellings are accepted as aliases.

Magic amounts (minor units, any currency) trigger the same outcomes with any good card:
see :data:`MAGIC_AMOUNTS`. They are deliberately odd (``1_000_002`` = 10,000.02) so a real
price never hits one by accident.
"""

from __future__ import annotations

from dataclasses import dataclass

from lms_billing.domain.payments import RiskLevel


@dataclass(frozen=True)
class TestCard:
    """How a magic token behaves in the sandbox."""

    __test__ = False  # not a pytest class

    brand: str
    last4: str
    country: str = "US"
    type: str = "card"
    exp_month: int = 12
    exp_year: int = 2034
    decline_code: str | None = None
    requires_authentication: bool = False
    capture_fails: bool = False
    timeout: bool = False
    processing: bool = False
    risk_level: RiskLevel = RiskLevel.NORMAL
    risk_score: int = 20


_VISA = TestCard("visa", "4242")

TEST_CARDS: dict[str, TestCard] = {
    "pm_card_visa": _VISA,
    "pm_card_mastercard": TestCard("mastercard", "4444"),
    "pm_card_amex": TestCard("amex", "8431"),
    "pm_card_de": TestCard("visa", "0016", country="DE"),
    "pm_card_gb": TestCard("visa", "0002", country="GB"),
    "pm_card_chargeDeclined": TestCard("visa", "0002", decline_code="generic_decline"),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard(
        "visa", "9995", decline_code="insufficient_funds"
    ),
    "pm_card_chargeDeclinedStolenCard": TestCard("visa", "9979", decline_code="stolen_card"),
    "pm_card_chargeDeclinedLostCard": TestCard("visa", "9987", decline_code="lost_card"),
    "pm_card_chargeDeclinedFraudulent": TestCard(
        "visa", "0019", decline_code="fraudulent", risk_level=RiskLevel.HIGHEST, risk_score=95
    ),
    "pm_card_chargeDeclinedExpiredCard": TestCard("visa", "0069", decline_code="expired_card"),
    "pm_card_chargeDeclinedProcessingError": TestCard(
        "visa", "0119", decline_code="processing_error"
    ),
    "pm_card_chargeDeclinedDoNotHonor": TestCard("visa", "0051", decline_code="do_not_honor"),
    "pm_card_threeDSecureRequired": TestCard("visa", "3155", requires_authentication=True),
    "pm_card_riskLevelElevated": TestCard(
        "visa", "9235", risk_level=RiskLevel.ELEVATED, risk_score=70
    ),
    "pm_card_riskLevelHighest": TestCard(
        "visa", "4954", decline_code="fraudulent", risk_level=RiskLevel.HIGHEST, risk_score=99
    ),
    "pm_card_captureFails": TestCard("visa", "0341", capture_fails=True),
    "pm_card_timeout": TestCard("visa", "0408", timeout=True),
    "pm_debit_processing": TestCard(
        "sepa_debit", "3000", country="DE", type="sepa_debit", processing=True
    ),
}

# Stripe's alternative spellings.
_ALIASES = {
    "pm_card_visa_chargeDeclined": "pm_card_chargeDeclined",
    "pm_card_visa_chargeDeclinedInsufficientFunds": "pm_card_chargeDeclinedInsufficientFunds",
    "pm_card_visa_chargeDeclinedStolenCard": "pm_card_chargeDeclinedStolenCard",
    "pm_card_visa_chargeDeclinedLostCard": "pm_card_chargeDeclinedLostCard",
    "pm_card_visa_chargeDeclinedFraudulent": "pm_card_chargeDeclinedFraudulent",
    "pm_card_visa_chargeDeclinedExpiredCard": "pm_card_chargeDeclinedExpiredCard",
    "pm_card_visa_chargeDeclinedProcessingError": "pm_card_chargeDeclinedProcessingError",
    "pm_card_threeDSecure2Required": "pm_card_threeDSecureRequired",
    "pm_card_authenticationRequired": "pm_card_threeDSecureRequired",
}
TEST_CARDS.update({alias: TEST_CARDS[target] for alias, target in _ALIASES.items()})

MAGIC_AMOUNTS: dict[int, str] = {
    1_000_002: "pm_card_chargeDeclined",
    1_009_995: "pm_card_chargeDeclinedInsufficientFunds",
    1_009_979: "pm_card_chargeDeclinedStolenCard",
    1_003_155: "pm_card_threeDSecureRequired",
    1_000_341: "pm_card_captureFails",
    1_000_408: "pm_card_timeout",
    1_004_954: "pm_card_riskLevelHighest",
    1_009_235: "pm_card_riskLevelElevated",
}
"""Amounts that behave like a magic card whatever card is used."""


def behaviour_for(token_behaviour: TestCard, amount: int) -> TestCard:
    """The effective behaviour: a magic amount overrides a good card's behaviour."""
    magic = MAGIC_AMOUNTS.get(amount)
    if magic is None:
        return token_behaviour
    return TEST_CARDS[magic]


__all__ = ["MAGIC_AMOUNTS", "TEST_CARDS", "TestCard", "behaviour_for"]
