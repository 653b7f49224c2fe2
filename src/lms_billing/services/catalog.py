"""Catalog use cases: products, prices and plans, and quoting a price in any currency."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lms_billing.domain.catalog import (
    CurrencyOption,
    Interval,
    Plan,
    Price,
    PriceScheme,
    PriceType,
    Product,
    ProductKind,
    Recurring,
    TaxBehavior,
    Tier,
)
from lms_billing.domain.pricing import Quote, price_quote
from lms_billing.errors import (
    DomainError,
    InvalidIntervalError,
    NotFoundError,
    ValidationError,
)
from lms_billing.money import DEFAULT_ROUNDING, RoundingMode, currency_code
from lms_billing.services._context import PendingEvents, ServiceContext, mutate, validating
from lms_billing.services.fx import find_rate
from lms_billing.storage.base import DEFAULT_LIST_LIMIT, UnitOfWork


class CatalogService:
    """Products (courses, bundles, add-ons), their prices and plans.

    Every create/archive call takes an ``idempotency_key``: repeating a call with the same key
    returns the first result and changes nothing.
    """

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    # --- products -------------------------------------------------------------------------

    def create_product(
        self,
        *,
        name: str,
        idempotency_key: str,
        kind: ProductKind | str = ProductKind.COURSE,
        description: str | None = None,
        external_id: str | None = None,
        bundled_product_ids: Sequence[str] = (),
        tax_code: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Product:
        """Create a product. Bundles list the products they contain, which must exist.

        :raises AlreadyExistsError: another product has this ``external_id``.
        :raises NotFoundError: a bundled product does not exist.
        """
        request = {
            "name": name,
            "kind": str(kind),
            "description": description,
            "external_id": external_id,
            "bundled_product_ids": list(bundled_product_ids),
            "tax_code": tax_code,
            "metadata": dict(metadata or {}),
        }

        with validating("product"):
            product = Product(
                name=name,
                kind=kind,
                description=description,
                external_id=external_id,
                bundled_product_ids=tuple(bundled_product_ids),
                tax_code=tax_code,
                metadata=dict(metadata or {}),
                created_at=self._ctx.clock.now(),
            )

        def execute(uow: UnitOfWork, events: PendingEvents) -> Product:
            for product_id in bundled_product_ids:
                uow.products.get(product_id)  # NotFoundError names the missing one
            uow.products.add(product)
            events.record("product.created", product)
            return product

        return mutate(
            self._ctx,
            operation="products.create",
            idempotency_key=idempotency_key,
            request=request,
            model=Product,
            execute=execute,
        )

    def import_product(self, external_id: str, *, idempotency_key: str) -> Product:
        """The product for an LMS course id, created from the Course Service on first use.

        Asks the ``lms_billing_resolve_product`` hook; an already imported product is
        returned as it is.

        :raises NotFoundError: no plugin knows the course.
        """

        def execute(uow: UnitOfWork, events: PendingEvents) -> Product:
            existing = uow.products.get_by_external_id(external_id)
            if existing is not None:
                return existing
            profile = self._ctx.plugins.resolve_product(external_id)
            if profile is None:
                raise NotFoundError(
                    f"No plugin resolves product {external_id!r}.", external_id=external_id
                )
            product = Product.from_profile(profile, created_at=self._ctx.clock.now())
            uow.products.add(product)
            events.record("product.created", product)
            return product

        return mutate(
            self._ctx,
            operation="products.import",
            idempotency_key=idempotency_key,
            request={"external_id": external_id},
            model=Product,
            execute=execute,
        )

    def archive_product(self, product_id: str, *, idempotency_key: str) -> Product:
        """Deactivate a product: it keeps its history but takes no new prices or sales."""

        def execute(uow: UnitOfWork, events: PendingEvents) -> Product:
            product = uow.products.get(product_id).model_copy(update={"active": False})
            uow.products.update(product)
            events.record("product.updated", product)
            return product

        return mutate(
            self._ctx,
            operation="products.archive",
            idempotency_key=idempotency_key,
            request={"product_id": product_id},
            model=Product,
            execute=execute,
        )

    def get_product(self, product_id: str) -> Product:
        with self._ctx.storage.unit_of_work() as uow:
            return uow.products.get(product_id)

    def list_products(
        self,
        *,
        active: bool | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[Product]:
        with self._ctx.storage.unit_of_work() as uow:
            return uow.products.list(active=active, limit=limit, starting_after=starting_after)

    # --- prices ---------------------------------------------------------------------------

    def create_price(
        self,
        *,
        product_id: str,
        currency: str,
        idempotency_key: str,
        scheme: PriceScheme | str = PriceScheme.FLAT,
        unit_amount: int | None = None,
        tiers: Sequence[Tier | Mapping[str, Any]] = (),
        package_size: int | None = None,
        recurring: Recurring | Mapping[str, Any] | None = None,
        currency_options: Mapping[str, CurrencyOption | Mapping[str, Any]] | None = None,
        tax_behavior: TaxBehavior | str = TaxBehavior.UNSPECIFIED,
        lookup_key: str | None = None,
        nickname: str | None = None,
        trial_period_days: int | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Price:
        """Create a price for an active product. Amounts are integer minor units.

        A price with ``recurring`` (``{"interval": "month", "interval_count": 1}``) is a
        recurring price; without it, a one-time price.

        :raises NotFoundError: the product does not exist.
        :raises DomainError: the product is archived.
        :raises ValidationError: (a subclass of) for bad amounts, tiers or intervals.
        :raises AlreadyExistsError: the ``lookup_key`` is taken.
        """
        # Validate before touching storage: a bad price never claims the idempotency key.
        with validating("price"):
            price = Price(
                product_id=product_id,
                currency=currency,
                type=PriceType.ONE_TIME if recurring is None else PriceType.RECURRING,
                recurring=recurring,
                scheme=scheme,
                unit_amount=unit_amount,
                tiers=tuple(tiers),
                package_size=package_size,
                currency_options=dict(currency_options or {}),
                tax_behavior=tax_behavior,
                lookup_key=lookup_key,
                nickname=nickname,
                trial_period_days=trial_period_days,
                metadata=dict(metadata or {}),
                created_at=self._ctx.clock.now(),
            )
        request = price.model_dump(mode="json", exclude={"id", "created_at"})

        def execute(uow: UnitOfWork, events: PendingEvents) -> Price:
            product = uow.products.get(product_id)
            if not product.active:
                raise DomainError(
                    f"Product {product_id} is archived; it takes no new prices.",
                    product_id=product_id,
                )
            uow.prices.add(price)
            events.record("price.created", price)
            return price

        return mutate(
            self._ctx,
            operation="prices.create",
            idempotency_key=idempotency_key,
            request=request,
            model=Price,
            execute=execute,
        )

    def archive_price(self, price_id: str, *, idempotency_key: str) -> Price:
        """Deactivate a price. Prices are never edited: create a new one instead."""

        def execute(uow: UnitOfWork, events: PendingEvents) -> Price:
            price = uow.prices.get(price_id).model_copy(update={"active": False})
            uow.prices.update(price)
            events.record("price.updated", price)
            return price

        return mutate(
            self._ctx,
            operation="prices.archive",
            idempotency_key=idempotency_key,
            request={"price_id": price_id},
            model=Price,
            execute=execute,
        )

    def get_price(self, price_id: str) -> Price:
        with self._ctx.storage.unit_of_work() as uow:
            return uow.prices.get(price_id)

    def get_price_by_lookup_key(self, lookup_key: str) -> Price:
        with self._ctx.storage.unit_of_work() as uow:
            price = uow.prices.get_by_lookup_key(lookup_key)
        if price is None:
            raise NotFoundError(f"No price has lookup key {lookup_key!r}.", lookup_key=lookup_key)
        return price

    def list_prices(
        self,
        *,
        product_id: str | None = None,
        active: bool | None = None,
        currency: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[Price]:
        with self._ctx.storage.unit_of_work() as uow:
            return uow.prices.list(
                product_id=product_id,
                active=active,
                currency=currency,
                limit=limit,
                starting_after=starting_after,
            )

    # --- plans ----------------------------------------------------------------------------

    def create_plan(
        self,
        *,
        name: str,
        price_ids: Sequence[str],
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> Plan:
        """Create a plan: a named recurring offer made of active recurring prices that all
        bill on the same interval (a base price plus add-ons, say).

        :raises NotFoundError: a price does not exist.
        :raises InvalidIntervalError: a price is one-time or bills on another interval.
        """
        with validating("plan"):
            plan = Plan(
                name=name,
                price_ids=tuple(price_ids),
                metadata=dict(metadata or {}),
                created_at=self._ctx.clock.now(),
            )

        def execute(uow: UnitOfWork, events: PendingEvents) -> Plan:
            prices = [uow.prices.get(price_id) for price_id in plan.price_ids]
            _check_plan_prices(prices)
            uow.plans.add(plan)
            events.record("plan.created", plan)
            return plan

        return mutate(
            self._ctx,
            operation="plans.create",
            idempotency_key=idempotency_key,
            request={"name": name, "price_ids": list(price_ids), "metadata": plan.metadata},
            model=Plan,
            execute=execute,
        )

    def get_plan(self, plan_id: str) -> Plan:
        with self._ctx.storage.unit_of_work() as uow:
            return uow.plans.get(plan_id)

    def list_plans(
        self,
        *,
        active: bool | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[Plan]:
        with self._ctx.storage.unit_of_work() as uow:
            return uow.plans.list(active=active, limit=limit, starting_after=starting_after)

    # --- quotes ---------------------------------------------------------------------------

    def quote(
        self,
        price: Price | str,
        *,
        quantity: int = 1,
        currency: str | None = None,
        rounding: RoundingMode = DEFAULT_ROUNDING,
    ) -> Quote:
        """Price ``quantity`` units in ``currency`` (default: the price's own currency).

        Explicit per-currency amounts win; otherwise the amount is converted with a rate from
        the registered FX sources at the clock's "now", and the quote records that rate.

        :raises FxRateUnavailableError: the currency is not listed and no source has a rate.
        """
        if isinstance(price, str):
            price = self.get_price(price)
        target = currency_code(currency or price.currency)
        fx_rate = None
        if price.amounts_for(target) is None:
            fx_rate = find_rate(
                self._ctx.plugins.fx_rate_sources(), price.currency, target, self._ctx.clock.now()
            )
        return price_quote(price, quantity, target, fx_rate=fx_rate, rounding=rounding)


def _check_plan_prices(prices: Sequence[Price]) -> None:
    intervals: set[tuple[Interval, int]] = set()
    for price in prices:
        if price.recurring is None:
            raise InvalidIntervalError(
                f"Plans are recurring; price {price.id} is one-time.", price_id=price.id
            )
        if not price.active:
            raise ValidationError(f"Price {price.id} is archived.", price_id=price.id)
        intervals.add((price.recurring.interval, price.recurring.interval_count))
    if len(intervals) > 1:
        raise InvalidIntervalError(
            "All prices in a plan must bill on the same interval.",
            intervals=sorted(f"{count} {interval}" for interval, count in intervals),
        )


__all__ = ["CatalogService"]
