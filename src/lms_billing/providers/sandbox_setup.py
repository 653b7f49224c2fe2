"""The sandbox's setup flow: saving a payment method for off-session charges with the
bank's authentication run *when saving*, like a Stripe SetupIntent (see :mod:`.sandbox`).

``create_setup`` with a magic token confirms at once: a good card is attached
(``succeeded``), ``pm_card_threeDSecureRequired`` needs the customer first
(``requires_action``; play the challenge with
:meth:`SandboxSetups.complete_setup_authentication`), a declining card raises
:class:`~lms_billing.errors.PaymentDeclinedError` as Stripe's ``CardError`` does. Without a
token it waits for one (``requires_payment_method`` with a ``client_secret``, for the front
end). A card saved through an authenticated setup is charged off session without a new
challenge, like Stripe's ``4000002500003155``; attached directly, it is not.
"""

from __future__ import annotations

import hashlib

from lms_billing.domain.payments import (
    NextAction,
    PaymentMethodDetails,
    SetupResult,
    WebhookEventType,
)
from lms_billing.errors import PaymentDeclinedError, ProviderInvalidRequestError
from lms_billing.ids import new_id
from lms_billing.providers.sandbox_cards import TestCard
from lms_billing.providers.sandbox_core import SandboxCore, _Method, _Setup

AUTHENTICATION_URL = "https://sandbox.lms-billing.invalid/authenticate/{payment_id}"


def fingerprint(source: str) -> str:
    """The same magic card gets the same fingerprint across customers, as at Stripe."""
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def card_details(
    card: TestCard, source: str, *, token: str, gateway: str, customer_id: str | None = None
) -> PaymentMethodDetails:
    """What the sandbox says about magic card ``source`` saved (or looked up) as ``token``."""
    return PaymentMethodDetails(
        token=token,
        gateway=gateway,
        type=card.type,
        brand=card.brand,
        last4=card.last4,
        exp_month=card.exp_month,
        exp_year=card.exp_year,
        country=card.country,
        fingerprint=fingerprint(source),
        customer_id=customer_id,
    )


class SandboxSetups(SandboxCore):
    """Saved methods and setups of the sandbox (the base of the sandbox gateway)."""

    def _save_method(self, gateway_customer_id: str, token: str) -> PaymentMethodDetails:
        """Attach a magic token to a customer as a new ``pm_sbx_...`` (emits a webhook)."""
        card, source = self._card_for(token)
        details = card_details(
            card,
            source,
            token=new_id("pm_sbx"),
            gateway=self.name,
            customer_id=gateway_customer_id,
        )
        self._state.methods[details.token] = _Method(details, card)
        self._emit(WebhookEventType.PAYMENT_METHOD_ATTACHED, "payment_method", details)
        return details

    def create_setup(
        self,
        gateway_customer_id: str,
        *,
        idempotency_key: str,
        payment_method: str | None = None,
        return_url: str | None = None,
    ) -> SetupResult:
        """Start saving a payment method for off-session use (``usage=off_session``)."""

        def run() -> SetupResult:
            self._customer(gateway_customer_id)
            setup_id = new_id("seti_sbx")
            setup = _Setup(
                SetupResult(
                    id=setup_id,
                    gateway=self.name,
                    status="requires_payment_method",
                    customer_id=gateway_customer_id,
                    client_secret=f"{setup_id}_secret_sandbox",
                )
            )
            self._state.setups[setup_id] = setup
            if payment_method is not None:
                self._confirm_setup(setup, payment_method, return_url)
            return setup.result

        request = [gateway_customer_id, payment_method, return_url]
        return self._idempotent(idempotency_key, "create_setup", request, run)

    def retrieve_setup(self, setup_id: str) -> SetupResult:
        return self._setup(setup_id).result

    def complete_setup_authentication(self, setup_id: str, *, succeed: bool = True) -> SetupResult:
        """Play the customer finishing (or failing) 3-D Secure while saving a card."""
        setup = self._setup(setup_id)
        if setup.result.status != "requires_action" or setup.token is None:
            raise ProviderInvalidRequestError(
                f"Setup {setup_id!r} is {setup.result.status}, not requires_action.",
                provider=self.name,
                provider_code="setup_intent_unexpected_state",
            )
        if succeed:
            self._attach_setup(setup, setup.token)
        else:
            setup.result = setup.result.model_copy(
                update={
                    "status": "requires_payment_method",
                    "next_action": None,
                    "failure_code": "setup_intent_authentication_failure",
                    "failure_message": "The customer failed 3-D Secure authentication.",
                }
            )
        setup.token = None
        return setup.result

    def _confirm_setup(self, setup: _Setup, token: str, return_url: str | None) -> None:
        card: TestCard = self._card_for(token)[0]
        if card.decline_code is not None:
            raise PaymentDeclinedError(
                f"Your card was declined ({card.decline_code}).",
                decline_code=card.decline_code,
                provider=self.name,
                setup_id=setup.result.id,
            )
        if card.requires_authentication:
            setup.token = token
            setup.result = setup.result.model_copy(
                update={
                    "status": "requires_action",
                    "next_action": NextAction(
                        type="redirect_to_url",
                        url=AUTHENTICATION_URL.format(payment_id=setup.result.id),
                        return_url=return_url,
                    ),
                }
            )
            return
        self._attach_setup(setup, token)

    def _attach_setup(self, setup: _Setup, token: str) -> None:
        customer_id = setup.result.customer_id
        assert customer_id is not None  # every sandbox setup has one
        details = self._save_method(customer_id, token)
        self._state.methods[details.token].authenticated_off_session = True
        setup.result = setup.result.model_copy(
            update={"status": "succeeded", "next_action": None, "payment_method": details.token}
        )

    def _setup(self, setup_id: str) -> _Setup:
        found = self._state.setups.get(setup_id)
        if found is None:
            raise ProviderInvalidRequestError(
                f"No such setup: {setup_id!r}.",
                provider=self.name,
                provider_code="resource_missing",
            )
        return found


__all__ = ["AUTHENTICATION_URL", "SandboxSetups", "card_details", "fingerprint"]
