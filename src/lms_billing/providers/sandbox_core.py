"""The sandbox gateway's machinery: in-memory state, idempotent replays, balance
transactions and payouts, and webhooks signed like Stripe's (see :mod:`.sandbox`)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar, cast

from pydantic import BaseModel

from lms_billing.clock import Clock, SystemClock
from lms_billing.domain.payments import (
    WEBHOOK_PAYMENT_STATUS,
    BalanceTransaction,
    GatewayCustomer,
    PaymentMethodDetails,
    PaymentResult,
    Payout,
    RefundResult,
    SetupResult,
    WebhookEvent,
    WebhookEventType,
)
from lms_billing.errors import IdempotencyKeyMismatchError, ProviderInvalidRequestError
from lms_billing.ids import new_id
from lms_billing.money import RoundingMode, from_minor_units, round_minor, to_minor_units
from lms_billing.providers._common import from_timestamp, header
from lms_billing.providers.sandbox_cards import TEST_CARDS, TestCard
from lms_billing.providers.webhook_signing import (
    DEFAULT_WEBHOOK_TOLERANCE,
    signature_header,
    verify_signature_header,
)

T = TypeVar("T")

SIGNATURE_HEADER = "Sandbox-Signature"
DEFAULT_WEBHOOK_SECRET = "whsec_sandbox"  # a public test secret, like those in Stripe docs


@dataclass(frozen=True)
class SignedWebhook:
    """A webhook as the sandbox would POST it: raw body and headers."""

    payload: bytes
    headers: dict[str, str]

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.payload)
        return parsed


@dataclass
class _Method:
    details: PaymentMethodDetails
    card: TestCard
    # Saved through an authenticated setup: off-session charges need no new challenge
    # (Stripe's 4000002500003155 behaves so once set up for off-session use).
    authenticated_off_session: bool = False


@dataclass
class _Payment:
    result: PaymentResult
    card: TestCard
    authenticated: bool = False


@dataclass
class _Setup:
    result: SetupResult
    token: str | None = None  # the card waiting for authentication


@dataclass
class _State:
    customers: dict[str, GatewayCustomer] = field(default_factory=dict)
    methods: dict[str, _Method] = field(default_factory=dict)
    payments: dict[str, _Payment] = field(default_factory=dict)
    refunds: dict[str, RefundResult] = field(default_factory=dict)
    setups: dict[str, _Setup] = field(default_factory=dict)
    balance: dict[str, BalanceTransaction] = field(default_factory=dict)
    paid_out: set[str] = field(default_factory=set)
    payout_members: dict[str, tuple[str, ...]] = field(default_factory=dict)
    payouts: dict[str, Payout] = field(default_factory=dict)
    idempotency: dict[str, tuple[str, str, Any]] = field(default_factory=dict)
    webhooks: list[SignedWebhook] = field(default_factory=list)


class SandboxCore:
    """State, idempotency, settlement, payouts and signed webhooks of the sandbox.

    Use :class:`~lms_billing.providers.sandbox.SandboxGateway`; the constructor arguments
    are documented there.

    :param clock: time source for ``created`` stamps and the webhook tolerance window.
    :param webhook_secret: the endpoint secret webhooks are signed with.
    :param settlement_currency: the merchant balance currency; charges in another currency
        are converted with ``fx_rates`` (like a Stripe account settling in one currency).
    :param fx_rates: ``{("EUR", "USD"): Decimal("1.085")}`` = 1 EUR settles as 1.085 USD.
    :param fee_percent: processing fee in percent of the settled amount (default 2.9).
    :param fee_fixed: fixed fee in settlement minor units (default 30).
    """

    def __init__(
        self,
        *,
        name: str = "sandbox",
        clock: Clock | None = None,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        webhook_tolerance: timedelta = DEFAULT_WEBHOOK_TOLERANCE,
        settlement_currency: str | None = None,
        fx_rates: Mapping[tuple[str, str], Decimal] | None = None,
        fee_percent: Decimal = Decimal("2.9"),
        fee_fixed: int = 30,
    ) -> None:
        self.name = name
        self._clock = clock or SystemClock()
        self._secret = webhook_secret
        self._tolerance = webhook_tolerance
        self._settlement_currency = settlement_currency.upper() if settlement_currency else None
        self._fx_rates = dict(fx_rates or {})
        self._fee_percent = fee_percent
        self._fee_fixed = fee_fixed
        self._state = _State()
        self._lock = threading.RLock()

    # --- idempotency -----------------------------------------------------------------------

    def _idempotent(self, key: str, operation: str, request: object, run: Callable[[], T]) -> T:
        """Run ``run`` once per key; a replay with the same request returns the first result.

        Like Stripe, reusing a key with different parameters is an error, and a failed call
        stores nothing (so it may be retried with the same key).
        """
        fingerprint = hashlib.sha256(
            json.dumps([operation, request], sort_keys=True, default=str).encode()
        ).hexdigest()
        with self._lock:  # one request at a time, like a provider's per-key lock
            stored = self._state.idempotency.get(key)
            if stored is not None:
                if stored[:2] != (operation, fingerprint):
                    raise IdempotencyKeyMismatchError(
                        "Keys for idempotent requests can only be used with the same parameters.",
                        idempotency_key=key,
                    )
                return cast(T, stored[2])
            result = run()
            self._state.idempotency[key] = (operation, fingerprint, result)
            return result

    # --- reconciliation --------------------------------------------------------------------

    def list_balance_transactions(
        self,
        *,
        created_after: datetime | None = None,
        payout_id: str | None = None,
        limit: int = 100,
    ) -> list[BalanceTransaction]:
        """Balance transactions (charges, refunds, payouts), newest first, as Stripe lists
        them; ``payout_id`` gives those settled in that payout."""
        found = list(reversed(self._state.balance.values()))
        if payout_id is not None:
            members = set(self._state.payout_members.get(payout_id, ()))
            found = [txn for txn in found if txn.id in members]
        if created_after is not None:
            found = [txn for txn in found if txn.created is None or txn.created >= created_after]
        return found[:limit]

    def create_payout(self, currency: str, *, idempotency_key: str) -> Payout:
        """Pay out the whole balance in ``currency`` (available at once in the sandbox)."""
        code = currency.upper()

        def run() -> Payout:
            pending = [
                txn
                for txn in self._state.balance.values()
                if txn.currency == code
                and txn.type != "payout"
                and txn.id not in self._state.paid_out
            ]
            total = sum(txn.net for txn in pending)
            if total <= 0:
                raise ProviderInvalidRequestError(
                    f"No {code} balance to pay out.",
                    provider=self.name,
                    provider_code="balance_insufficient",
                )
            payout_id = new_id("po_sbx")
            txn = self._balance_transaction("payout", payout_id, -total, code, fee=0)
            self._state.paid_out.update(t.id for t in pending)
            self._state.payout_members[payout_id] = tuple(t.id for t in pending)
            payout = Payout(
                id=payout_id,
                gateway=self.name,
                amount=total,
                currency=code,
                status="paid",
                arrival_date=self._clock.now(),
                created=self._clock.now(),
                balance_transaction_id=txn.id,
            )
            self._state.payouts[payout_id] = payout
            self._emit(WebhookEventType.PAYOUT_PAID, "payout", payout)
            return payout

        return self._idempotent(idempotency_key, "payout", code, run)

    def list_payouts(
        self, *, created_after: datetime | None = None, limit: int = 100
    ) -> list[Payout]:
        """Payouts to the bank, newest first."""
        found = list(reversed(self._state.payouts.values()))
        if created_after is not None:
            found = [p for p in found if p.created is None or p.created >= created_after]
        return found[:limit]

    # --- webhooks --------------------------------------------------------------------------

    def take_webhooks(self) -> list[SignedWebhook]:
        """The webhooks emitted since the last call, in order (and forget them)."""
        webhooks, self._state.webhooks = self._state.webhooks, []
        return webhooks

    def sign(self, payload: bytes, timestamp: int | None = None) -> dict[str, str]:
        """Headers signing ``payload`` as the sandbox does (for tests of tampering/replay)."""
        stamp = int(self._clock.now().timestamp()) if timestamp is None else timestamp
        return {SIGNATURE_HEADER: signature_header(payload, self._secret, stamp)}

    def parse_webhook(self, payload: bytes, headers: dict[str, str]) -> WebhookEvent:
        """Verify the ``Sandbox-Signature`` header and normalize the event.

        :raises WebhookSignatureError: unsigned, tampered, or outside the tolerance window.
        """
        verify_signature_header(
            payload,
            header(headers, SIGNATURE_HEADER),
            self._secret,
            now=self._clock.now(),
            tolerance=self._tolerance,
        )
        event: dict[str, Any] = json.loads(payload)
        obj: dict[str, Any] = event["data"]["object"]
        event_type = WebhookEventType(event["type"])
        kind = obj.get("object")
        created = from_timestamp(event["created"])
        assert created is not None  # we wrote it
        return WebhookEvent(
            id=event["id"],
            gateway=self.name,
            type=event_type,
            provider_type=event["type"],
            created=created,
            object_id=obj.get("id") or obj.get("token"),
            payment_id=obj.get("id") if kind == "payment" else obj.get("payment_id"),
            refund_id=obj.get("id") if kind == "refund" else None,
            customer_id=obj.get("customer_id"),
            payment_status=WEBHOOK_PAYMENT_STATUS.get(event_type),
            amount=obj.get("amount"),
            currency=obj.get("currency"),
            metadata={str(k): str(v) for k, v in (obj.get("metadata") or {}).items()},
            raw=event,
        )

    # --- internals -------------------------------------------------------------------------

    def _balance_transaction(
        self, kind: str, source_id: str, amount: int, currency: str, fee: int | None = None
    ) -> BalanceTransaction:
        settlement = self._settlement_currency or currency
        rate: Decimal | None = None
        settled = amount
        if settlement != currency:
            rate = self._fx_rates.get((currency, settlement))
            if rate is None:
                raise ProviderInvalidRequestError(
                    f"The sandbox has no {currency}->{settlement} rate.",
                    provider=self.name,
                    provider_code="currency_not_supported",
                )
            # Settlement conversion is a named rounding point: half-up to the settlement
            # currency's minor unit, as providers round converted amounts.
            converted = from_minor_units(abs(amount), currency) * rate
            settled = to_minor_units(converted, rounding=RoundingMode.HALF_UP)
            settled = -settled if amount < 0 else settled
        if fee is None:
            # Fees only on charges; half-up to whole minor units (a named rounding point).
            fee = (
                round_minor(Decimal(settled) * self._fee_percent / 100) + self._fee_fixed
                if kind == "charge"
                else 0
            )
        now = self._clock.now()
        txn = BalanceTransaction(
            id=new_id("txn_sbx"),
            gateway=self.name,
            type=kind,
            amount=settled,
            fee=fee,
            net=settled - fee,
            currency=settlement,
            exchange_rate=rate,
            source_id=source_id,
            status="pending" if kind == "charge" else "available",
            created=now,
            available_on=now + timedelta(days=2) if kind == "charge" else now,
        )
        self._state.balance[txn.id] = txn
        return txn

    def _emit(self, event_type: WebhookEventType, kind: str, obj: BaseModel) -> None:
        now = self._clock.now()
        body = {
            "id": new_id("evt_sbx"),
            "object": "event",
            "type": event_type.value,
            "created": int(now.timestamp()),
            "livemode": False,
            "data": {"object": {"object": kind, **obj.model_dump(mode="json")}},
        }
        payload = json.dumps(body, separators=(",", ":")).encode()
        self._state.webhooks.append(SignedWebhook(payload, self.sign(payload)))

    def _card_for(self, token: str, *, customer_id: str | None = None) -> tuple[TestCard, str]:
        if token in TEST_CARDS:
            return TEST_CARDS[token], token
        method = self._state.methods.get(token)
        if method is None:
            raise ProviderInvalidRequestError(
                f"No such PaymentMethod: {token!r}.",
                provider=self.name,
                provider_code="resource_missing",
            )
        if customer_id is not None and method.details.customer_id != customer_id:
            raise ProviderInvalidRequestError(
                "The payment method belongs to another customer.",
                provider=self.name,
                provider_code="payment_method_customer_mismatch",
            )
        return method.card, method.details.fingerprint or token

    def _customer(self, customer_id: str) -> GatewayCustomer:
        try:
            return self._state.customers[customer_id]
        except KeyError:
            raise ProviderInvalidRequestError(
                f"No such customer: {customer_id!r}.",
                provider=self.name,
                provider_code="resource_missing",
            ) from None

    def _method(self, payment_method_id: str) -> _Method:
        try:
            return self._state.methods[payment_method_id]
        except KeyError:
            raise ProviderInvalidRequestError(
                f"No such PaymentMethod: {payment_method_id!r}.",
                provider=self.name,
                provider_code="resource_missing",
            ) from None

    def _payment(self, payment_id: str) -> _Payment:
        try:
            return self._state.payments[payment_id]
        except KeyError:
            raise ProviderInvalidRequestError(
                f"No such payment: {payment_id!r}.",
                provider=self.name,
                provider_code="resource_missing",
            ) from None

    def _bad_state(self, payment: _Payment, action: str) -> ProviderInvalidRequestError:
        status = payment.result.status.value
        return ProviderInvalidRequestError(
            f"You cannot {action} this payment because it has a status of {status}.",
            provider=self.name,
            provider_code="payment_intent_unexpected_state",
            payment_id=payment.result.id,
            status=status,
        )


__all__ = ["DEFAULT_WEBHOOK_SECRET", "SIGNATURE_HEADER", "SandboxCore", "SignedWebhook"]
