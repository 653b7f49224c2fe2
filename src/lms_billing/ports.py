"""Ports: the typed ``Protocol`` of every object a hook returns.

Hooks (``lms_billing.hookspecs``) say *how* a plugin hands an object to lms-billing; these
protocols say *what* that object must do. They are structural: a plugin does not import or
subclass anything to satisfy them, though it may for clarity. The built-in adapters
(sandbox gateway, zero-tax engine, memory/SQLAlchemy storage, in-process sink) satisfy them
exactly as third-party plugins do.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from lms_billing.domain.catalog import ProductProfile
    from lms_billing.domain.customers import CustomerProfile
    from lms_billing.domain.events import Event
    from lms_billing.domain.fraud import FraudContext, FraudVerdict
    from lms_billing.domain.fx import FxRate
    from lms_billing.domain.notifications import Notification
    from lms_billing.domain.payments import (
        BalanceTransaction,
        GatewayCustomer,
        PaymentMethodDetails,
        PaymentRequest,
        PaymentResult,
        Payout,
        RefundRequest,
        RefundResult,
        SetupResult,
        WebhookEvent,
    )
    from lms_billing.domain.tax import TaxRequest, TaxResult
    from lms_billing.storage.base import Storage


@runtime_checkable
class PaymentGateway(Protocol):
    """Moves money through one provider (sandbox, stripe, paypal, or a plugin).

    Every method that creates or changes something takes the caller's idempotency key and
    must forward it to the provider. Provider failures are raised as
    ``lms_billing.errors.ProviderError`` subclasses; a decline or a required 3-D Secure step
    is *returned* in :class:`PaymentResult`, because the caller handles it as an outcome.
    """

    name: str

    def create_customer(
        self, customer: CustomerProfile, *, idempotency_key: str
    ) -> GatewayCustomer: ...

    def update_customer(
        self, gateway_customer_id: str, customer: CustomerProfile, *, idempotency_key: str
    ) -> GatewayCustomer:
        """Copy a changed profile (email, name, address) to the provider's customer."""
        ...

    def attach_payment_method(
        self, gateway_customer_id: str, token: str, *, idempotency_key: str
    ) -> PaymentMethodDetails: ...

    def detach_payment_method(self, payment_method_id: str, *, idempotency_key: str) -> None: ...

    def create_payment(self, request: PaymentRequest) -> PaymentResult: ...

    def confirm_payment(self, payment_id: str, *, idempotency_key: str) -> PaymentResult: ...

    def capture_payment(
        self, payment_id: str, amount_minor: int | None, *, idempotency_key: str
    ) -> PaymentResult: ...

    def cancel_payment(self, payment_id: str, *, idempotency_key: str) -> PaymentResult: ...

    def retrieve_payment(self, payment_id: str) -> PaymentResult: ...

    def refund(self, request: RefundRequest) -> RefundResult: ...

    def parse_webhook(self, payload: bytes, headers: dict[str, str]) -> WebhookEvent:
        """Verify the signature and normalize; raise ``ValidationError`` when it fails."""
        ...


@runtime_checkable
class PaymentMethodLookup(Protocol):
    """Optional: what a payment-method token that is *not* saved stands for.

    A gateway that implements it lets fraud rules judge a card entered at checkout as they
    judge a saved one (card fingerprint for velocity, issuing country for mismatches),
    before anything is charged. Raise ``ProviderError`` subclasses as usual.
    """

    name: str

    def retrieve_payment_method(self, payment_method_id: str) -> PaymentMethodDetails: ...


@runtime_checkable
class PaymentSetup(Protocol):
    """Optional: save a payment method for later off-session charges through the
    provider's setup flow, which runs the bank's authentication (SCA / 3-D Secure) *when
    saving* (a Stripe SetupIntent). ``billing.payments.setup_payment_method`` uses it.

    ``create_setup`` without ``payment_method`` returns ``requires_payment_method`` and a
    ``client_secret`` for the provider's front end; with one it is confirmed at once and
    may return ``requires_action`` (``next_action``) or ``succeeded`` (the method is then
    attached to the gateway customer). A card refused while being saved raises
    ``PaymentDeclinedError``.
    """

    name: str

    def create_setup(
        self,
        gateway_customer_id: str,
        *,
        idempotency_key: str,
        payment_method: str | None = None,
        return_url: str | None = None,
    ) -> SetupResult: ...

    def retrieve_setup(self, setup_id: str) -> SetupResult: ...


@runtime_checkable
class ReconciliationSource(Protocol):
    """What a gateway reports for reconciliation: money settled and paid out to the bank.

    Optional: a gateway that implements it lets finance match payments to payouts. Lists are
    newest first; ``payout_id`` narrows balance transactions to one payout.
    """

    name: str

    def list_balance_transactions(
        self,
        *,
        created_after: datetime | None = None,
        payout_id: str | None = None,
        limit: int = 100,
    ) -> list[BalanceTransaction]: ...

    def list_payouts(
        self, *, created_after: datetime | None = None, limit: int = 100
    ) -> list[Payout]: ...


@runtime_checkable
class TaxEngine(Protocol):
    """Computes tax lines for a draft. Engines are chained: the first that ``handles`` a
    request computes it, so a built-in EU engine and Stripe Tax for the US can coexist."""

    name: str

    def handles(self, request: TaxRequest) -> bool: ...

    def calculate(self, request: TaxRequest) -> TaxResult: ...


@runtime_checkable
class StorageBackend(Protocol):
    """Opens a :class:`~lms_billing.storage.base.Storage` for URLs it understands."""

    name: str

    def handles(self, url: str) -> bool:
        """True for URLs this backend opens (``sqlite://``, ``postgresql+psycopg://`` ...)."""
        ...

    def open(self, url: str) -> Storage: ...


@runtime_checkable
class EventSink(Protocol):
    """Receives committed events: ``publish`` gets the events of one committed call, in order.

    Called after the commit, at most once today (a raise is logged, not retried; see
    ``lms_billing_event_sinks``). Be idempotent by ``event.id``: the planned transactional
    outbox will redeliver after a crash.
    """

    name: str

    def publish(self, events: Sequence[Event]) -> None: ...


@runtime_checkable
class FxRates(Protocol):
    """Exchange rates. Return ``None`` when this source has no rate for the pair."""

    name: str

    def get_rate(self, base: str, quote: str, at: datetime) -> FxRate | None: ...


@runtime_checkable
class CustomerDirectory(Protocol):
    """The LMS User Service: who is behind an LMS user or organisation id.

    Not returned by a registration hook: wrap a client of this shape with
    ``lms_billing.plugins.directory_plugin(customers=...)``, which answers the
    ``lms_billing_resolve_customer`` hook with it. Return ``None`` for unknown ids.
    """

    def get_customer(self, external_id: str) -> CustomerProfile | None: ...


@runtime_checkable
class ProductCatalog(Protocol):
    """The LMS Course Service: what a course or bundle id is.

    Wrap a client of this shape with ``lms_billing.plugins.directory_plugin(products=...)``,
    which answers the ``lms_billing_resolve_product`` hook with it. Return ``None`` for
    unknown ids.
    """

    def get_product(self, external_id: str) -> ProductProfile | None: ...


@runtime_checkable
class Notifier(Protocol):
    """Sends a notification (email, in-app ...) built from a billing event."""

    name: str

    def notify(self, notification: Notification) -> None: ...


@runtime_checkable
class FraudRule(Protocol):
    """One fraud rule. Returns a verdict, or ``None`` when it has nothing to say."""

    name: str

    def evaluate(self, context: FraudContext) -> FraudVerdict | None: ...


__all__ = [
    "CustomerDirectory",
    "EventSink",
    "FraudRule",
    "FxRates",
    "Notifier",
    "PaymentGateway",
    "PaymentMethodLookup",
    "PaymentSetup",
    "ProductCatalog",
    "ReconciliationSource",
    "StorageBackend",
    "TaxEngine",
]
