"""Saved payment methods and gateway customers: tokens only, never card data.

A payment method is attached at the gateway first (outside any database transaction, with a
gateway idempotency key derived from the caller's key), then recorded. Recording is keyed on
``(gateway, token)``, so replaying an attach returns the stored method instead of a second
one. Raw card numbers are refused before anything is sent anywhere (PCI DSS SAQ-A).
"""

from __future__ import annotations

from datetime import datetime

from lms_billing.domain.card_data import reject_card_data
from lms_billing.domain.customers import Customer, CustomerProfile
from lms_billing.domain.events import Event
from lms_billing.domain.payment_records import GatewayCustomerLink, StoredPaymentMethod
from lms_billing.domain.payments import PaymentMethodDetails
from lms_billing.errors import AlreadyExistsError, ProviderError, ValidationError
from lms_billing.ids import new_id
from lms_billing.ports import PaymentGateway, PaymentMethodLookup
from lms_billing.services._context import ServiceContext
from lms_billing.services._payment_support import PaymentSettings, event, publish
from lms_billing.storage.base import DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, UnitOfWork

DEFAULT_GATEWAY = "sandbox"


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


class PaymentMethodService:
    """Gateway customers and saved payment methods (the base of the payment service)."""

    def __init__(self, ctx: ServiceContext, settings: PaymentSettings | None = None) -> None:
        self._ctx = ctx
        self.settings = settings or PaymentSettings()

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
            after: str | None = None
            while True:
                page = uow.payment_methods.list(limit=MAX_LIST_LIMIT, starting_after=after)
                for method in page:
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
                if len(page) < MAX_LIST_LIMIT:
                    break
                after = page[-1].id
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


__all__ = ["DEFAULT_GATEWAY", "PaymentMethodService", "expires_within"]
