"""The storage port: a :class:`Storage` hands out units of work holding the repositories.

Services never see SQL. They open a unit of work, read and write through its repositories and
call :meth:`UnitOfWork.commit`; leaving the ``with`` block without committing (an exception
included) rolls everything back::

    with storage.unit_of_work() as uow:
        customer = uow.customers.get("cus_...")
        uow.customers.update(customer.model_copy(update={"email": "new@example.com"}))
        uow.commit()

Backends (memory, SQLAlchemy, plugins) satisfy these protocols structurally. Repositories
return rebuilt domain models; lists are ordered newest first (by id, which is time-ordered)
and paged with ``starting_after``, like Stripe's list endpoints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict

from lms_billing.domain.catalog import Plan, Price, Product
from lms_billing.domain.customers import Customer
from lms_billing.errors import ValidationError

if TYPE_CHECKING:  # base_invoicing imports this module
    from lms_billing.storage.base_invoicing import (
        CouponRepository,
        CreditNoteRepository,
        CustomerBalanceRepository,
        InvoiceRepository,
        NumberingRepository,
        PromotionCodeRepository,
        ReceiptRepository,
    )
    from lms_billing.storage.base_payments import (
        DunningRepository,
        GatewayCustomerRepository,
        PaymentMethodRepository,
        PaymentRepository,
        RefundRepository,
        WebhookInboxRepository,
    )
    from lms_billing.storage.base_subscriptions import (
        BillingRunRepository,
        PendingItemRepository,
        SubscriptionRepository,
    )

M = TypeVar("M", bound=BaseModel)

DEFAULT_LIST_LIMIT = 100
MAX_LIST_LIMIT = 1000


def check_limit(limit: int) -> int:
    """Validate a list ``limit`` (1 to :data:`MAX_LIST_LIMIT`)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST_LIMIT:
        raise ValidationError(
            f"limit must be an integer from 1 to {MAX_LIST_LIMIT}, got {limit!r}.",
            limit=repr(limit),
        )
    return limit


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


_I = TypeVar("_I", bound=_Identified)


def every(list_page: Callable[..., Sequence[_I]], **filters: Any) -> Iterator[_I]:
    """Every entity a repository's ``list`` returns for ``filters``, page by page (pages of
    :data:`MAX_LIST_LIMIT`, each after the last id of the one before)::

        for invoice in every(uow.invoices.list, status=InvoiceStatus.OPEN): ...
    """
    after: str | None = None
    while True:
        page = list_page(**filters, limit=MAX_LIST_LIMIT, starting_after=after)
        yield from page
        if len(page) < MAX_LIST_LIMIT:
            return
        after = page[-1].id


class IdempotencyRecord(BaseModel):
    """One idempotency key: which request claimed it and, once completed, its response."""

    model_config = ConfigDict(frozen=True)

    key: str
    operation: str
    request_hash: str
    response: dict[str, Any] | None = None
    created_at: datetime
    completed_at: datetime | None = None

    @property
    def completed(self) -> bool:
        return self.response is not None


class Repository(Protocol[M]):
    """What every entity repository offers. ``update`` is optimistic: it fails with
    :class:`~lms_billing.errors.StaleVersionError` when someone else changed the row since
    this unit of work read it (or since ``expected_version``)."""

    def add(self, entity: M) -> None:
        """Insert; a duplicate id or unique key raises ``AlreadyExistsError``."""
        ...

    def get(self, entity_id: str) -> M:
        """The entity, or ``NotFoundError``."""
        ...

    def get_or_none(self, entity_id: str) -> M | None: ...

    def version(self, entity_id: str) -> int:
        """The stored version (1 after ``add``, +1 per ``update``); ``NotFoundError``."""
        ...

    def update(self, entity: M, *, expected_version: int | None = None) -> int:
        """Replace the stored entity with the same id; returns the new version.

        Without ``expected_version`` the version this unit of work first read is expected.
        """
        ...


class CustomerRepository(Repository[Customer], Protocol):
    def get_by_external_id(self, external_id: str) -> Customer | None: ...

    def list(
        self, *, limit: int = DEFAULT_LIST_LIMIT, starting_after: str | None = None
    ) -> list[Customer]: ...


class ProductRepository(Repository[Product], Protocol):
    def get_by_external_id(self, external_id: str) -> Product | None: ...

    def list(
        self,
        *,
        active: bool | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[Product]: ...


class PriceRepository(Repository[Price], Protocol):
    def get_by_lookup_key(self, lookup_key: str) -> Price | None: ...

    def list(
        self,
        *,
        product_id: str | None = None,
        active: bool | None = None,
        currency: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[Price]: ...


class PlanRepository(Repository[Plan], Protocol):
    def list(
        self,
        *,
        active: bool | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[Plan]: ...


class IdempotencyRepository(Protocol):
    """Idempotency keys; :func:`lms_billing.services.idempotency.run_idempotent` uses it."""

    def get(self, key: str) -> IdempotencyRecord | None: ...

    def claim(
        self, key: str, *, operation: str, request_hash: str, now: datetime
    ) -> IdempotencyRecord | None:
        """Claim ``key`` for this unit of work.

        Returns None when the key was free: it is now claimed (in flight) by this unit of
        work, which must :meth:`complete` or :meth:`release` it. Returns the existing record
        when the key was used before (completed, or claimed and committed elsewhere). Raises
        ``IdempotencyKeyInUseError`` when another open unit of work holds the key.
        """
        ...

    def complete(self, key: str, *, response: Mapping[str, Any], now: datetime) -> None:
        """Store the response for a key this unit of work claimed."""
        ...

    def release(self, key: str) -> None:
        """Forget an uncompleted claim made by this unit of work (the call failed)."""
        ...

    def delete_before(self, cutoff: datetime) -> int:
        """Delete records created before ``cutoff``; returns how many."""
        ...


@runtime_checkable
class UnitOfWork(Protocol):
    """One transaction. Nothing is visible to others until :meth:`commit`."""

    # Read-only properties, so implementations may hold more specific repository types.
    @property
    def customers(self) -> CustomerRepository: ...

    @property
    def products(self) -> ProductRepository: ...

    @property
    def prices(self) -> PriceRepository: ...

    @property
    def plans(self) -> PlanRepository: ...

    @property
    def idempotency(self) -> IdempotencyRepository: ...

    # invoicing (lms_billing.storage.base_invoicing)
    @property
    def coupons(self) -> CouponRepository: ...

    @property
    def promotion_codes(self) -> PromotionCodeRepository: ...

    @property
    def invoices(self) -> InvoiceRepository: ...

    @property
    def credit_notes(self) -> CreditNoteRepository: ...

    @property
    def receipts(self) -> ReceiptRepository: ...

    @property
    def numbering(self) -> NumberingRepository: ...

    @property
    def customer_balance(self) -> CustomerBalanceRepository: ...

    # subscriptions (lms_billing.storage.base_subscriptions)
    @property
    def subscriptions(self) -> SubscriptionRepository: ...

    @property
    def pending_items(self) -> PendingItemRepository: ...

    @property
    def billing_runs(self) -> BillingRunRepository: ...

    # payments (lms_billing.storage.base_payments)
    @property
    def payment_methods(self) -> PaymentMethodRepository: ...

    @property
    def gateway_customers(self) -> GatewayCustomerRepository: ...

    @property
    def payments(self) -> PaymentRepository: ...

    @property
    def refunds(self) -> RefundRepository: ...

    @property
    def webhook_events(self) -> WebhookInboxRepository: ...

    @property
    def dunning(self) -> DunningRepository: ...

    def commit(self) -> None:
        """Make every change so far durable; the unit of work stays usable afterwards."""
        ...


@runtime_checkable
class Storage(Protocol):
    """A database (or stand-in) that hands out units of work."""

    name: str
    url: str

    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]:
        """A context manager yielding a :class:`UnitOfWork`; rolls back unless committed."""
        ...

    def migrate(self) -> None:
        """Create or upgrade the schema to the latest version (no-op where not needed)."""
        ...

    def close(self) -> None:
        """Release connections; the storage cannot be used afterwards."""
        ...


__all__ = [
    "DEFAULT_LIST_LIMIT",
    "MAX_LIST_LIMIT",
    "CustomerRepository",
    "IdempotencyRecord",
    "IdempotencyRepository",
    "PlanRepository",
    "PriceRepository",
    "ProductRepository",
    "Repository",
    "Storage",
    "UnitOfWork",
    "check_limit",
    "every",
]
