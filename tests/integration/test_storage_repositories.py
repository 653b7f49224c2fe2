"""Every repository round-trips on memory, SQLite and PostgreSQL, with the same semantics."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

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
from lms_billing.domain.customers import Address, Customer, CustomerKind, TaxId
from lms_billing.errors import (
    AlreadyExistsError,
    ConfigurationError,
    NotFoundError,
    StaleVersionError,
    ValidationError,
)
from lms_billing.ids import new_id
from lms_billing.storage import open_storage
from lms_billing.storage.base import Storage
from lms_billing.storage.memory import MemoryStorage

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.postgres)])
def concurrent_storage(request: pytest.FixtureRequest) -> Iterator[Storage]:
    """Backends where two units of work can be open at once in one thread (not SQLite)."""
    if request.param == "memory":
        opened: Storage = MemoryStorage()
    else:
        opened = open_storage(request.getfixturevalue("postgres_url"), migrate=True)
    yield opened
    opened.close()


def _customer(external_id: str = "user-1", **fields: object) -> Customer:
    base: dict[str, object] = {
        "id": new_id("cus"),
        "external_id": external_id,
        "kind": CustomerKind.ORGANIZATION,
        "email": "billing@example.edu",
        "name": "Example University",
        "address": Address(country="DE", city="Berlin", postal_code="10115"),
        "locale": "de_DE",
        "preferred_currency": "EUR",
        "tax_ids": (TaxId(type="eu_vat", value="DE123456789"),),
        "created_at": NOW,
        "metadata": {"crm": {"segment": "higher-ed"}},
    }
    base.update(fields)
    return Customer.model_validate(base)


def _product(external_id: str | None = "course-101", **fields: object) -> Product:
    return Product.model_validate(
        {"name": "Python 101", "external_id": external_id, "created_at": NOW, **fields}
    )


def _graduated_price(product_id: str, **fields: object) -> Price:
    return Price.model_validate(
        {
            "product_id": product_id,
            "currency": "USD",
            "type": PriceType.RECURRING,
            "recurring": Recurring(interval=Interval.MONTH, interval_count=3),
            "scheme": PriceScheme.GRADUATED,
            "tiers": (
                Tier(up_to=5, unit_amount=500),
                Tier(up_to=None, unit_amount=400, flat_amount=100),
            ),
            "currency_options": {
                "EUR": CurrencyOption(
                    tiers=(Tier(up_to=5, unit_amount=450), Tier(up_to=None, unit_amount=380))
                ),
            },
            "tax_behavior": TaxBehavior.EXCLUSIVE,
            "lookup_key": "team-quarterly",
            "trial_period_days": 14,
            "created_at": NOW,
            **fields,
        }
    )


def _flat_price(product_id: str, currency: str = "JPY", **fields: object) -> Price:
    return Price.model_validate(
        {
            "product_id": product_id,
            "currency": currency,
            "unit_amount": 12_000,
            "created_at": NOW,
            **fields,
        }
    )


# --- round trips --------------------------------------------------------------------------


def test_customer_round_trip(storage: Storage) -> None:
    customer = _customer()
    with storage.unit_of_work() as uow:
        uow.customers.add(customer)
        uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.customers.get(customer.id) == customer
        assert uow.customers.get_by_external_id("user-1") == customer
        assert uow.customers.get_by_external_id("nobody") is None
        assert uow.customers.version(customer.id) == 1


def test_product_price_and_plan_round_trip(storage: Storage) -> None:
    bundle_part = _product("course-102", name="Python 102")
    bundle = _product(
        "bundle-1",
        name="Python track",
        kind=ProductKind.BUNDLE,
        bundled_product_ids=(bundle_part.id,),
        tax_code="txcd_10000000",
        metadata={"level": "beginner"},
    )
    graduated = _graduated_price(bundle.id)
    package = Price.model_validate(
        {
            "product_id": bundle.id,
            "currency": "KWD",
            "scheme": PriceScheme.PACKAGE,
            "unit_amount": 12_345,  # 12.345 KWD: three minor-unit digits survive storage
            "package_size": 10,
            "created_at": NOW,
        }
    )
    plan = Plan(name="Team quarterly", price_ids=(graduated.id, package.id), created_at=NOW)
    with storage.unit_of_work() as uow:
        uow.products.add(bundle_part)
        uow.products.add(bundle)
        uow.prices.add(graduated)
        uow.prices.add(package)
        uow.plans.add(plan)
        uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.products.get(bundle.id) == bundle
        assert uow.products.get_by_external_id("bundle-1") == bundle
        assert uow.prices.get(graduated.id) == graduated
        assert uow.prices.get(package.id) == package
        assert uow.prices.get_by_lookup_key("team-quarterly") == graduated
        assert uow.prices.get_by_lookup_key("missing") is None
        assert uow.plans.get(plan.id) == plan


def test_get_missing_raises_not_found_and_get_or_none_returns_none(storage: Storage) -> None:
    with storage.unit_of_work() as uow:
        for repository in (uow.customers, uow.products, uow.prices, uow.plans):
            assert repository.get_or_none("missing_1") is None
            with pytest.raises(NotFoundError):
                repository.get("missing_1")
            with pytest.raises(NotFoundError):
                repository.version("missing_1")


# --- transactions -------------------------------------------------------------------------


def test_leaving_without_commit_rolls_back(storage: Storage) -> None:
    product = _product()
    with storage.unit_of_work() as uow:
        uow.products.add(product)
        assert uow.products.get(product.id) == product  # visible inside its own transaction
    with storage.unit_of_work() as uow:
        assert uow.products.get_or_none(product.id) is None


def test_an_exception_rolls_back(storage: Storage) -> None:
    customer = _customer()

    class Boom(Exception):
        pass

    with pytest.raises(Boom), storage.unit_of_work() as uow:
        uow.customers.add(customer)
        raise Boom
    with storage.unit_of_work() as uow:
        assert uow.customers.get_or_none(customer.id) is None


def test_uncommitted_changes_are_invisible_to_other_units_of_work(
    concurrent_storage: Storage,
) -> None:
    product = _product()
    with concurrent_storage.unit_of_work() as writer:
        writer.products.add(product)
        writer.commit()
        writer.products.update(product.model_copy(update={"name": "Renamed"}))
        with concurrent_storage.unit_of_work() as reader:
            assert reader.products.get(product.id).name == "Python 101"
    with concurrent_storage.unit_of_work() as uow:
        assert uow.products.get(product.id).name == "Python 101"  # second change not committed


def test_sqlite_refuses_a_second_open_unit_of_work_in_one_thread(sqlite_url: str) -> None:
    storage = open_storage(sqlite_url, migrate=True)
    try:
        with (
            storage.unit_of_work(),
            pytest.raises(ConfigurationError),
            storage.unit_of_work(),
        ):
            pass
        with storage.unit_of_work() as uow:  # usable again once the first one ended
            assert uow.products.list() == []
    finally:
        storage.close()


def test_unit_of_work_stays_usable_after_commit(storage: Storage) -> None:
    first, second = _product("c-1"), _product("c-2")
    with storage.unit_of_work() as uow:
        uow.products.add(first)
        uow.commit()
        uow.products.add(second)
        uow.commit()
    with storage.unit_of_work() as uow:
        assert {p.id for p in uow.products.list()} == {first.id, second.id}


# --- conflicts ----------------------------------------------------------------------------


def test_duplicate_ids_and_unique_keys_conflict(storage: Storage) -> None:
    customer, product = _customer(), _product()
    price = _graduated_price(product.id)
    with storage.unit_of_work() as uow:
        uow.customers.add(customer)
        uow.products.add(product)
        uow.prices.add(price)
        uow.commit()
    with storage.unit_of_work() as uow:
        with pytest.raises(AlreadyExistsError):
            uow.customers.add(customer)
        with pytest.raises(AlreadyExistsError):
            uow.customers.add(_customer("user-1"))  # same external_id, new id
        with pytest.raises(AlreadyExistsError):
            uow.products.add(_product("course-101"))
        with pytest.raises(AlreadyExistsError):
            uow.prices.add(_graduated_price(product.id))  # same lookup_key
        # The unit of work is still usable after a conflict (savepoints on SQL backends).
        other = _customer("user-2")
        uow.customers.add(other)
        uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.customers.get(other.id) == other


def test_products_without_external_id_do_not_conflict(storage: Storage) -> None:
    with storage.unit_of_work() as uow:
        uow.products.add(_product(None))
        uow.products.add(_product(None))
        uow.commit()
    with storage.unit_of_work() as uow:
        assert len(uow.products.list()) == 2


def test_price_for_unknown_product_is_not_found(storage: Storage) -> None:
    with storage.unit_of_work() as uow, pytest.raises(NotFoundError):
        uow.prices.add(_flat_price("prod_missing"))


def test_update_bumps_version_and_checks_expected_version(storage: Storage) -> None:
    customer = _customer()
    with storage.unit_of_work() as uow:
        uow.customers.add(customer)
        uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.customers.update(customer.model_copy(update={"email": "a@example.edu"})) == 2
        assert uow.customers.update(customer.model_copy(update={"email": "b@example.edu"})) == 3
        uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.customers.get(customer.id).email == "b@example.edu"
        assert uow.customers.version(customer.id) == 3
        with pytest.raises(StaleVersionError):
            uow.customers.update(customer, expected_version=2)
        assert uow.customers.update(customer, expected_version=3) == 4
        uow.commit()


def test_concurrent_update_of_what_was_read_is_stale(concurrent_storage: Storage) -> None:
    customer = _customer()
    with concurrent_storage.unit_of_work() as uow:
        uow.customers.add(customer)
        uow.commit()
    with concurrent_storage.unit_of_work() as first, concurrent_storage.unit_of_work() as second:
        mine = first.customers.get(customer.id)
        theirs = second.customers.get(customer.id)
        first.customers.update(mine.model_copy(update={"email": "a@example.edu"}))
        first.commit()
        with pytest.raises(StaleVersionError):
            second.customers.update(theirs.model_copy(update={"email": "b@example.edu"}))
    with concurrent_storage.unit_of_work() as uow:
        assert uow.customers.get(customer.id).email == "a@example.edu"


def test_update_of_missing_entity_is_not_found(storage: Storage) -> None:
    with storage.unit_of_work() as uow, pytest.raises(NotFoundError):
        uow.products.update(_product())


def test_update_into_a_taken_unique_key_conflicts(storage: Storage) -> None:
    first, second = _customer("user-1"), _customer("user-2")
    with storage.unit_of_work() as uow:
        uow.customers.add(first)
        uow.customers.add(second)
        uow.commit()
    with storage.unit_of_work() as uow, pytest.raises(AlreadyExistsError):
        uow.customers.update(second.model_copy(update={"external_id": "user-1"}))


def test_updated_key_columns_are_used_by_lookups_and_filters(storage: Storage) -> None:
    product = _product()
    price = _flat_price(product.id, lookup_key="old")
    with storage.unit_of_work() as uow:
        uow.products.add(product)
        uow.prices.add(price)
        uow.commit()
    with storage.unit_of_work() as uow:
        uow.prices.update(price.model_copy(update={"lookup_key": "new", "active": False}))
        uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.prices.get_by_lookup_key("old") is None
        assert uow.prices.get_by_lookup_key("new") is not None
        assert uow.prices.list(active=True) == []


# --- lists --------------------------------------------------------------------------------


def test_lists_are_newest_first_filtered_and_paged(storage: Storage) -> None:
    course, other = _product("course-1"), _product("course-2")
    prices = [
        _flat_price(
            course.id,
            currency="EUR" if i % 2 else "USD",
            active=i != 3,
            created_at=NOW + timedelta(minutes=i),
        )
        for i in range(6)
    ]
    other_price = _flat_price(other.id)
    with storage.unit_of_work() as uow:
        uow.products.add(course)
        uow.products.add(other)
        for price in prices:
            uow.prices.add(price)
        uow.prices.add(other_price)
        uow.commit()
    newest_first = [p.id for p in reversed(prices)]
    with storage.unit_of_work() as uow:
        assert [p.id for p in uow.prices.list(product_id=course.id)] == newest_first
        page_1 = uow.prices.list(product_id=course.id, limit=4)
        page_2 = uow.prices.list(product_id=course.id, limit=4, starting_after=page_1[-1].id)
        assert [p.id for p in page_1 + page_2] == newest_first
        assert len(page_2) == 2
        assert {p.id for p in uow.prices.list(product_id=course.id, active=False)} == {prices[3].id}
        assert {p.currency for p in uow.prices.list(product_id=course.id, currency="eur")} == {
            "EUR"
        }
        assert [p.id for p in uow.prices.list(product_id=other.id)] == [other_price.id]
        assert len(uow.prices.list()) == 7
        assert [p.id for p in uow.products.list(active=True)] == [other.id, course.id]


def test_customer_and_plan_lists(storage: Storage) -> None:
    customers = [_customer(f"user-{i}") for i in range(3)]
    plans = [
        Plan(name=f"Plan {i}", price_ids=("price_x",), active=i > 0, created_at=NOW)
        for i in range(3)
    ]
    with storage.unit_of_work() as uow:
        for customer in customers:
            uow.customers.add(customer)
        for plan in plans:
            uow.plans.add(plan)
        uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.customers.list() == list(reversed(customers))
        assert uow.customers.list(limit=1, starting_after=customers[1].id) == [customers[0]]
        assert uow.plans.list(active=True) == [plans[2], plans[1]]


@pytest.mark.parametrize("limit", [0, -1, 1001])
def test_bad_list_limits_are_rejected(storage: Storage, limit: int) -> None:
    with storage.unit_of_work() as uow, pytest.raises(ValidationError):
        uow.products.list(limit=limit)
