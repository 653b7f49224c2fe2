"""Saved payment methods and gateway customers: tokens only, never card data.

A payment method is attached at the gateway first (outside any database transaction, with a
gateway idempotency key derived from the caller's key), then recorded. Recording is keyed on
``(gateway, token)``, so replaying an attach returns the stored method instead of a second
one. Raw card numbers are refused before anything is sent anywhere (PCI DSS SAQ-A).
"""

from __future__ import annotations

import logging
from datetime import datetime

from lms_billing.domain.card_data import reject_card_data
from lms_billing.domain.customers import Customer, CustomerProfile
from lms_billing.domain.events import Event
from lms_billing.domain.payment_records import (
    GatewayCustomerLink,
    SetupOutcome,
    StoredPaymentMethod,
)
from lms_billing.domain.payments import GatewayCustomer, PaymentMethodDetails, SetupResult
from lms_billing.errors import AlreadyExistsError, ProviderError, ValidationError
from lms_billing.hookspecs import hookimpl
from lms_billing.ids import new_id
from lms_billing.ports import PaymentGateway, PaymentMethodLookup, PaymentSetup
from lms_billing.services._context import ServiceContext
from lms_billing.services._payment_support import PaymentSettings, event, publish
from lms_billing.storage.base import DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, UnitOfWork, every

DEFAULT_GATEWAY = "sandbox"
CUSTOMER_SYNC_PLUGIN = "lms_billing.payments.gateway_customer_sync"

logger = logging.getLogger("lms_billing.payments")


def _profile(customer: Customer) -> CustomerProfile:
    fields = CustomerProfile.model_fields
    return CustomerProfile.model_validate(
        {k: v for k, v in customer.model_dump().items() if k in fields}
    )


def _expiry_key(method: StoredPaymentMethod) -> str | None:
    if method.exp_month is None or method.exp_year is None:
        return None
    return f"{method.exp_year:04d}-{method.exp_month:02d}"


def expires_within(method: StoredPaymentMethod, now: datetime, months: int) -> bool:
    """True when the card expires this month or within ``months`` more months (and has not
    expired yet: a card is valid through the last day of its expiry month)."""
    if method.exp_month is None or method.exp_year is None:
        return False
    current = now.year * 12 + now.month - 1
    expiry = method.exp_year * 12 + method.exp_month - 1
    return current <= expiry <= current + months


class GatewayCustomerSync:
    """A plugin copying a customer's changed profile (name, email, address) to every
    provider customer linked to it, on the committed ``customer.updated`` event.

    The payment service registers one per plugin host. A provider failure is logged
    (``lms_billing.payments``) and does not disturb the update already committed; call
    :meth:`PaymentMethodService.sync_gateway_customers` to retry.
    """

    def __init__(self, service: PaymentMethodService) -> None:
        self._service = service

    @hookimpl
    def lms_billing_event(self, event: Event) -> None:
        if event.type != "customer.updated" or event.customer_id is None:
            return
        try:
            self._service.sync_gateway_customers(
                event.customer_id, idempotency_key=f"customer-update:{event.id}"
            )
        except ProviderError as exc:
            logger.warning(
                "Could not copy customer %s to %s: %s", event.customer_id, exc.provider, exc
            )


class PaymentMethodService:
    """Gateway customers and saved payment methods (the base of the payment service)."""

    def __init__(self, ctx: ServiceContext, settings: PaymentSettings | None = None) -> None:
        self._ctx = ctx
        self.settings = settings or PaymentSettings()
        if ctx.plugins.pm.get_plugin(CUSTOMER_SYNC_PLUGIN) is None:
            ctx.plugins.pm.register(GatewayCustomerSync(self), name=CUSTOMER_SYNC_PLUGIN)

    def gateway(self, name: str) -> PaymentGateway:
        """The registered gateway called ``name`` (:class:`NotFoundError` if none)."""
        return self._ctx.plugins.payment_gateway(name)

    _gateway = gateway

    def gateway_customer_id(self, customer_id: str, gateway: str = DEFAULT_GATEWAY) -> str:
        """The provider's customer id for ``customer_id``, created at the gateway on first use.

        The gateway call uses an idempotency key derived from our ids, so two racing callers
        create one provider customer; the link is stored once (unique per customer and
        gateway).
        """
        with self._ctx.storage.unit_of_work() as uow:
            link = uow.gateway_customers.get_for(customer_id, gateway)
            customer = uow.customers.get(customer_id)
        if link is not None:
            return link.gateway_customer_id
        created = self._gateway(gateway).create_customer(
            _profile(customer), idempotency_key=f"gateway-customer:{customer_id}:{gateway}"
        )
        with self._ctx.storage.unit_of_work() as uow:
            try:
                uow.gateway_customers.add(
                    GatewayCustomerLink(
                        id=new_id("gcus"),
                        customer_id=customer_id,
                        gateway=gateway,
                        gateway_customer_id=created.id,
                        created_at=self._ctx.clock.now(),
                    )
                )
                uow.commit()
            except AlreadyExistsError:
                pass  # a concurrent caller stored the same link first
        return created.id

    def inspect_payment_method(
        self, gateway: str, token: str | None, *, idempotency_key: str | None = None
    ) -> PaymentMethodDetails | None:
        """What an *unsaved* token stands for (fingerprint, issuing country), from gateways
        that implement :class:`~lms_billing.ports.PaymentMethodLookup`, so fraud rules
        judge a card entered at checkout like a saved one.

        ``None`` for no token, a saved token (its stored details are used), a replayed
        ``idempotency_key``, a gateway without the lookup, or a lookup the provider could
        not answer: fraud rules then see less, the payment itself is unaffected.
        """
        if token is None:
            return None
        with self._ctx.storage.unit_of_work() as uow:
            if idempotency_key is not None and uow.payments.get_by_idempotency_key(idempotency_key):
                return None
            if uow.payment_methods.get_by_token(gateway, token) is not None:
                return None
        lookup = self._gateway(gateway)
        if not isinstance(lookup, PaymentMethodLookup):
            return None
        try:
            return lookup.retrieve_payment_method(token)
        except ProviderError:
            return None  # the charge reports a bad token or an outage as it should

    def sync_gateway_customers(
        self, customer_id: str, *, idempotency_key: str
    ) -> list[GatewayCustomer]:
        """Copy the customer's current profile to every provider customer linked to it
        (``update_customer`` with an idempotency key derived from ``idempotency_key``).
        Runs by itself on ``customer.updated``; returns the updated provider customers."""
        with self._ctx.storage.unit_of_work() as uow:
            customer = uow.customers.get(customer_id)
            links = [
                link
                for name in sorted(self._ctx.plugins.payment_gateways())
                if (link := uow.gateway_customers.get_for(customer_id, name)) is not None
            ]
        profile = _profile(customer)
        return [
            self._gateway(link.gateway).update_customer(
                link.gateway_customer_id,
                profile,
                idempotency_key=f"{idempotency_key}:{link.gateway}",
            )
            for link in links
        ]

    def attach_payment_method(
        self,
        customer_id: str,
        token: str,
        *,
        idempotency_key: str,
        gateway: str = DEFAULT_GATEWAY,
        set_default: bool = False,
    ) -> StoredPaymentMethod:
        """Save a gateway token (``pm_...``, a PayPal vault id) for ``customer_id``.

        The first method a customer saves becomes the default.

        :raises CardDataRejectedError: ``token`` looks like a card number.
        """
        reject_card_data(token, field="payment_method")
        reject_card_data(idempotency_key, field="idempotency_key")
        gateway_customer = self.gateway_customer_id(customer_id, gateway)
        details = self._gateway(gateway).attach_payment_method(
            gateway_customer, token, idempotency_key=f"attach:{customer_id}:{idempotency_key}"
        )
        return self._record_method(customer_id, gateway, details, set_default=set_default)

    def setup_payment_method(
        self,
        customer_id: str,
        *,
        idempotency_key: str,
        gateway: str = DEFAULT_GATEWAY,
        payment_method: str | None = None,
        return_url: str | None = None,
        set_default: bool = False,
    ) -> SetupOutcome:
        """Save a payment method for renewals through the provider's setup flow (a Stripe
        SetupIntent, ``usage=off_session``), which runs the bank's authentication *now*,
        with the customer present, so later off-session charges are not refused for it.

        Without ``payment_method`` the outcome is ``requires_payment_method`` with the
        ``client_secret`` for the provider's front end (Stripe.js ``confirmSetup``); with a
        token it is confirmed at once. ``requires_action``: show ``setup.next_action``, then
        call :meth:`complete_setup`. ``succeeded``: the method is stored (the first one
        becomes the default) and returned in ``payment_method``.

        :raises ValidationError: the gateway has no setup flow (use
            :meth:`attach_payment_method`).
        :raises PaymentDeclinedError: the card was refused while being saved.
        :raises CardDataRejectedError: anything that looks like a card number.
        """
        reject_card_data(payment_method, field="payment_method")
        reject_card_data(idempotency_key, field="idempotency_key")
        flow = self._setup_flow(gateway)
        setup = flow.create_setup(
            self.gateway_customer_id(customer_id, gateway),
            idempotency_key=f"setup:{customer_id}:{idempotency_key}",
            payment_method=payment_method,
            return_url=return_url,
        )
        return self._setup_outcome(customer_id, gateway, setup, set_default)

    def complete_setup(
        self,
        customer_id: str,
        setup_id: str,
        *,
        gateway: str = DEFAULT_GATEWAY,
        set_default: bool = False,
    ) -> SetupOutcome:
        """Re-read a setup after the customer acted (3-D Secure, Stripe.js) and store the
        method once it ``succeeded``. Safe to call again: the method is stored once."""
        setup = self._setup_flow(gateway).retrieve_setup(setup_id)
        link = self.gateway_customer_id(customer_id, gateway)
        if setup.customer_id is not None and setup.customer_id != link:
            raise ValidationError(
                f"Setup {setup_id} belongs to another customer.", setup_id=setup_id
            )
        return self._setup_outcome(customer_id, gateway, setup, set_default)

    def _setup_flow(self, gateway: str) -> PaymentSetup:
        flow = self._gateway(gateway)
        if not isinstance(flow, PaymentSetup):
            raise ValidationError(
                f"Gateway {gateway!r} has no setup flow; use attach_payment_method.",
                gateway=gateway,
            )
        return flow

    def _setup_outcome(
        self, customer_id: str, gateway: str, setup: SetupResult, set_default: bool
    ) -> SetupOutcome:
        if not setup.succeeded or setup.payment_method is None:
            return SetupOutcome(setup=setup)
        lookup = self._gateway(gateway)
        details = (
            lookup.retrieve_payment_method(setup.payment_method)
            if isinstance(lookup, PaymentMethodLookup)
            else PaymentMethodDetails(token=setup.payment_method, gateway=gateway)
        )
        method = self._record_method(customer_id, gateway, details, set_default=set_default)
        return SetupOutcome(setup=setup, payment_method=method)

    def _record_method(
        self,
        customer_id: str,
        gateway: str,
        details: PaymentMethodDetails,
        *,
        set_default: bool,
    ) -> StoredPaymentMethod:
        """Store a method the gateway attached (once per ``(gateway, token)``)."""
        now = self._ctx.clock.now()
        events: list[Event] = []
        with self._ctx.storage.unit_of_work() as uow:
            existing = uow.payment_methods.get_by_token(gateway, details.token)
            if existing is not None:
                return existing
            others = uow.payment_methods.list(customer_id=customer_id, limit=MAX_LIST_LIMIT)
            method = StoredPaymentMethod(
                id=new_id("pmr"),
                customer_id=customer_id,
                gateway=gateway,
                token=details.token,
                type=details.type,
                brand=details.brand,
                last4=details.last4,
                exp_month=details.exp_month,
                exp_year=details.exp_year,
                fingerprint=details.fingerprint,
                country=details.country,
                is_default=False,
                created_at=now,
            )
            uow.payment_methods.add(method)
            if set_default or not others:
                method = self._make_default(uow, method)
            uow.commit()
            events.append(
                event(
                    "customer.payment_method.attached",
                    now,
                    customer_id,
                    object=method.model_dump(mode="json"),
                )
            )
        publish(self._ctx, events)
        return method

    def detach_payment_method(
        self, payment_method_id: str, *, idempotency_key: str
    ) -> StoredPaymentMethod:
        """Detach a saved method at the gateway and mark it inactive (kept for history)."""
        with self._ctx.storage.unit_of_work() as uow:
            method = uow.payment_methods.get(payment_method_id)
        if not method.active:
            return method
        self._gateway(method.gateway).detach_payment_method(
            method.token, idempotency_key=f"detach:{method.id}:{idempotency_key}"
        )
        now = self._ctx.clock.now()
        with self._ctx.storage.unit_of_work() as uow:
            current = uow.payment_methods.get(payment_method_id)
            detached = current.model_copy(
                update={"active": False, "is_default": False, "detached_at": now}
            )
            uow.payment_methods.update(detached)
            uow.commit()
        publish(
            self._ctx,
            [
                event(
                    "customer.payment_method.detached",
                    now,
                    method.customer_id,
                    object=detached.model_dump(mode="json"),
                )
            ],
        )
        return detached

    def set_default_payment_method(self, payment_method_id: str) -> StoredPaymentMethod:
        """Make a saved method the customer's default (renewals and dunning charge it)."""
        with self._ctx.storage.unit_of_work() as uow:
            method = uow.payment_methods.get(payment_method_id)
            if not method.active:
                raise ValidationError(
                    f"Payment method {method.id} is detached.", payment_method=method.id
                )
            method = self._make_default(uow, method)
            uow.commit()
        return method

    @staticmethod
    def _make_default(uow: UnitOfWork, method: StoredPaymentMethod) -> StoredPaymentMethod:
        for other in uow.payment_methods.list(customer_id=method.customer_id, limit=MAX_LIST_LIMIT):
            if other.id != method.id and other.is_default:
                uow.payment_methods.update(other.model_copy(update={"is_default": False}))
        chosen = method.model_copy(update={"is_default": True})
        uow.payment_methods.update(chosen)
        return chosen

    def list_payment_methods(
        self, customer_id: str, *, limit: int = DEFAULT_LIST_LIMIT
    ) -> list[StoredPaymentMethod]:
        """The customer's active saved methods, newest first."""
        with self._ctx.storage.unit_of_work() as uow:
            return uow.payment_methods.list(customer_id=customer_id, limit=limit)

    def default_payment_method(self, customer_id: str) -> StoredPaymentMethod | None:
        """The customer's default saved method, if any."""
        for method in self.list_payment_methods(customer_id, limit=MAX_LIST_LIMIT):
            if method.is_default:
                return method
        return None

    def check_expiring_payment_methods(
        self, at: datetime | None = None
    ) -> list[StoredPaymentMethod]:
        """Emit ``customer.payment_method.expiring`` once per card and expiry month for
        cards expiring within ``settings.expiring_card_months``; returns those announced.

        Run it daily (a cron job or the billing run's schedule): a card that expires before
        the next renewal can be replaced before the renewal fails.
        """
        now = at or self._ctx.clock.now()
        announced: list[StoredPaymentMethod] = []
        with self._ctx.storage.unit_of_work() as uow:
            for method in every(uow.payment_methods.list):
                key = _expiry_key(method)
                if (
                    key is None
                    or method.expiring_notice_for == key
                    or not expires_within(method, now, self.settings.expiring_card_months)
                ):
                    continue
                noted = method.model_copy(update={"expiring_notice_for": key})
                uow.payment_methods.update(noted)
                announced.append(noted)
            uow.commit()
        publish(
            self._ctx,
            [
                event(
                    "customer.payment_method.expiring",
                    now,
                    m.customer_id,
                    object=m.model_dump(mode="json"),
                )
                for m in announced
            ],
        )
        return announced


__all__ = [
    "CUSTOMER_SYNC_PLUGIN",
    "DEFAULT_GATEWAY",
    "GatewayCustomerSync",
    "PaymentMethodService",
    "expires_within",
]
