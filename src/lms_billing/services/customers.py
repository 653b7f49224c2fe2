"""Customer use cases: who pays, linked to the LMS user or organisation id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lms_billing.domain.customers import Customer, CustomerProfile
from lms_billing.errors import NotFoundError, ValidationError
from lms_billing.ids import new_id
from lms_billing.services._context import PendingEvents, ServiceContext, mutate, validating
from lms_billing.storage.base import DEFAULT_LIST_LIMIT, UnitOfWork

# Fields a caller may change with ``update``; ids, external ids and timestamps are fixed.
UPDATABLE_FIELDS = frozenset(
    {
        "email",
        "name",
        "address",
        "locale",
        "preferred_currency",
        "tax_ids",
        "tax_exempt",
        "exemption_certificates",
        "metadata",
    }
)


class CustomerService:
    """Create, import (from the LMS User Service), read and update customers."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def create(
        self,
        profile: CustomerProfile | Mapping[str, Any],
        *,
        idempotency_key: str,
        metadata: Mapping[str, Any] | None = None,
    ) -> Customer:
        """Create a customer from a profile (or a dict of profile fields).

        :raises AlreadyExistsError: a customer with this ``external_id`` exists.
        :raises ValidationError: (a subclass of) for a bad country, locale, currency ...
        """
        with validating("customer"):
            if not isinstance(profile, CustomerProfile):
                profile = CustomerProfile.model_validate(dict(profile))
            customer = self._new_customer(profile, metadata)

        def execute(uow: UnitOfWork, events: PendingEvents) -> Customer:
            uow.customers.add(customer)
            events.record("customer.created", customer, customer_id=customer.id)
            return customer

        return mutate(
            self._ctx,
            operation="customers.create",
            idempotency_key=idempotency_key,
            request={"profile": profile, "metadata": dict(metadata or {})},
            model=Customer,
            execute=execute,
        )

    def import_customer(self, external_id: str, *, idempotency_key: str) -> Customer:
        """The customer for an LMS user or organisation id, created from the User Service
        (the ``lms_billing_resolve_customer`` hook) on first use.

        :raises NotFoundError: no plugin knows the id.
        """

        def execute(uow: UnitOfWork, events: PendingEvents) -> Customer:
            existing = uow.customers.get_by_external_id(external_id)
            if existing is not None:
                return existing
            profile = self._ctx.plugins.resolve_customer(external_id)
            if profile is None:
                raise NotFoundError(
                    f"No plugin resolves customer {external_id!r}.", external_id=external_id
                )
            customer = self._new_customer(profile, None)
            uow.customers.add(customer)
            events.record("customer.created", customer, customer_id=customer.id)
            return customer

        return mutate(
            self._ctx,
            operation="customers.import",
            idempotency_key=idempotency_key,
            request={"external_id": external_id},
            model=Customer,
            execute=execute,
        )

    def update(
        self, customer_id: str, changes: Mapping[str, Any], *, idempotency_key: str
    ) -> Customer:
        """Change profile fields (see :data:`UPDATABLE_FIELDS`); the rest is validated again.

        :raises ValidationError: an unknown or fixed field, or an invalid value.
        :raises StaleVersionError: someone else changed the customer meanwhile.
        """
        unknown = sorted(set(changes) - UPDATABLE_FIELDS)
        if unknown:
            raise ValidationError(
                f"These customer fields cannot be updated: {', '.join(unknown)}.", fields=unknown
            )

        def execute(uow: UnitOfWork, events: PendingEvents) -> Customer:
            current = uow.customers.get(customer_id)
            with validating("customer"):
                updated = Customer.model_validate({**current.model_dump(), **dict(changes)})
            uow.customers.update(updated)
            events.record("customer.updated", updated, customer_id=updated.id)
            return updated

        return mutate(
            self._ctx,
            operation="customers.update",
            idempotency_key=idempotency_key,
            request={"customer_id": customer_id, "changes": dict(changes)},
            model=Customer,
            execute=execute,
        )

    def get(self, customer_id: str) -> Customer:
        with self._ctx.storage.unit_of_work() as uow:
            return uow.customers.get(customer_id)

    def get_by_external_id(self, external_id: str) -> Customer:
        with self._ctx.storage.unit_of_work() as uow:
            customer = uow.customers.get_by_external_id(external_id)
        if customer is None:
            raise NotFoundError(f"No customer for {external_id!r}.", external_id=external_id)
        return customer

    def list(
        self, *, limit: int = DEFAULT_LIST_LIMIT, starting_after: str | None = None
    ) -> list[Customer]:
        with self._ctx.storage.unit_of_work() as uow:
            return uow.customers.list(limit=limit, starting_after=starting_after)

    def _new_customer(
        self, profile: CustomerProfile, metadata: Mapping[str, Any] | None
    ) -> Customer:
        return Customer(
            **profile.model_dump(),
            id=new_id("cus"),
            created_at=self._ctx.clock.now(),
            metadata=dict(metadata or {}),
        )


__all__ = ["UPDATABLE_FIELDS", "CustomerService"]
