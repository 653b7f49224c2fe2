"""The Billing facade's catalog and customer use cases, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from lms_billing import Billing, TestClock
from lms_billing.domain.catalog import PriceType, ProductKind
from lms_billing.domain.customers import CustomerProfile
from lms_billing.domain.events import Event
from lms_billing.domain.fx import FxRate
from lms_billing.errors import (
    AlreadyExistsError,
    DomainError,
    FxRateUnavailableError,
    IdempotencyKeyMismatchError,
    InvalidIntervalError,
    InvalidTiersError,
    NotFoundError,
    UnknownCurrencyError,
    ValidationError,
)
from lms_billing.hookspecs import hookimpl

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class Recorder:
    """A test plugin: records events and offers one GBP rate."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    @hookimpl
    def lms_billing_event(self, event: Event) -> None:
        self.events.append(event)

    @hookimpl
    def lms_billing_fx_rates(self) -> list[object]:
        return [OneRate()]


class OneRate:
    name = "one-rate"

    def get_rate(self, base: str, quote: str, at: datetime) -> FxRate | None:
        if (base, quote) == ("USD", "GBP"):
            return FxRate(base="USD", quote="GBP", rate=Decimal("0.7874"), as_of=at, source="t")
        return None


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def billing(storage_url: str, recorder: Recorder) -> Billing:
    with Billing(
        storage_url, plugins=[recorder], clock=TestClock(NOW), load_entrypoints=False
    ) as opened:
        yield opened  # type: ignore[misc]


def test_products_prices_and_plans_round_trip(billing: Billing) -> None:
    course = billing.catalog.create_product(
        name="Python 101", external_id="course-1", idempotency_key="p1"
    )
    price = billing.catalog.create_price(
        product_id=course.id,
        currency="USD",
        unit_amount=4900,
        currency_options={"EUR": {"unit_amount": 4500}},
        lookup_key="py-once",
        idempotency_key="pr1",
    )
    seats = billing.catalog.create_price(
        product_id=course.id,
        currency="USD",
        scheme="volume",
        tiers=[{"up_to": 10, "unit_amount": 1000}, {"up_to": None, "unit_amount": 800}],
        recurring={"interval": "month"},
        idempotency_key="pr2",
    )
    plan = billing.catalog.create_plan(
        name="Team monthly", price_ids=[seats.id], idempotency_key="pl1"
    )

    assert billing.catalog.get_product(course.id) == course
    assert billing.catalog.get_price_by_lookup_key("py-once") == price
    assert seats.type is PriceType.RECURRING and price.type is PriceType.ONE_TIME
    assert {p.id for p in billing.catalog.list_prices(product_id=course.id)} == {
        price.id,
        seats.id,
    }
    assert billing.catalog.get_plan(plan.id).price_ids == (seats.id,)
    assert billing.catalog.quote(price, currency="EUR").subtotal == 4500
    assert billing.catalog.quote(seats.id, quantity=12).subtotal == 12 * 800


def test_replayed_key_returns_first_result_and_emits_once(
    billing: Billing, recorder: Recorder
) -> None:
    first = billing.catalog.create_product(name="Python 101", idempotency_key="same")
    again = billing.catalog.create_product(name="Python 101", idempotency_key="same")

    assert again == first
    assert len(billing.catalog.list_products()) == 1
    assert [e.type for e in recorder.events] == ["product.created"]
    assert recorder.events[0].data["object"]["id"] == first.id


def test_same_key_with_another_request_is_a_mismatch(billing: Billing) -> None:
    billing.catalog.create_product(name="Python 101", idempotency_key="k")
    with pytest.raises(IdempotencyKeyMismatchError):
        billing.catalog.create_product(name="Python 102", idempotency_key="k")
    assert [p.name for p in billing.catalog.list_products()] == ["Python 101"]


def test_failed_call_writes_nothing_and_frees_its_key(
    billing: Billing, recorder: Recorder
) -> None:
    with pytest.raises(NotFoundError):
        billing.catalog.create_product(
            name="Bundle",
            kind=ProductKind.BUNDLE,
            bundled_product_ids=["prod_missing"],
            idempotency_key="b1",
        )
    assert billing.catalog.list_products() == []
    assert recorder.events == []
    # The key was released, so a corrected retry under another request is not a mismatch.
    course = billing.catalog.create_product(name="Course", idempotency_key="c")
    bundle = billing.catalog.create_product(
        name="Bundle", kind="bundle", bundled_product_ids=[course.id], idempotency_key="b1"
    )
    assert bundle.bundled_product_ids == (course.id,)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"currency": "ZZZ", "unit_amount": 100}, UnknownCurrencyError),
        ({"currency": "USD", "scheme": "graduated", "tiers": []}, InvalidTiersError),
        (
            {"currency": "USD", "unit_amount": 100, "recurring": {"interval": "month",
                                                                    "interval_count": 0}},
            InvalidIntervalError,
        ),
        ({"currency": "USD"}, ValidationError),
    ],
)
def test_bad_prices_get_typed_errors_and_store_nothing(
    billing: Billing, fields: dict[str, object], error: type[Exception]
) -> None:
    course = billing.catalog.create_product(name="Course", idempotency_key="c")
    with pytest.raises(error):
        billing.catalog.create_price(product_id=course.id, idempotency_key="x", **fields)  # type: ignore[arg-type]
    assert billing.catalog.list_prices() == []


def test_archived_products_take_no_new_prices(billing: Billing) -> None:
    course = billing.catalog.create_product(name="Course", idempotency_key="c")
    archived = billing.catalog.archive_product(course.id, idempotency_key="a")
    assert not archived.active
    with pytest.raises(DomainError):
        billing.catalog.create_price(
            product_id=course.id, currency="USD", unit_amount=100, idempotency_key="p"
        )


def test_plans_need_recurring_prices_on_one_interval(billing: Billing) -> None:
    course = billing.catalog.create_product(name="Course", idempotency_key="c")
    once = billing.catalog.create_price(
        product_id=course.id, currency="USD", unit_amount=100, idempotency_key="p1"
    )
    monthly = billing.catalog.create_price(
        product_id=course.id,
        currency="USD",
        unit_amount=100,
        recurring={"interval": "month"},
        idempotency_key="p2",
    )
    yearly = billing.catalog.create_price(
        product_id=course.id,
        currency="USD",
        unit_amount=1000,
        recurring={"interval": "year"},
        idempotency_key="p3",
    )
    with pytest.raises(InvalidIntervalError):
        billing.catalog.create_plan(name="x", price_ids=[once.id], idempotency_key="x1")
    with pytest.raises(InvalidIntervalError):
        billing.catalog.create_plan(
            name="x", price_ids=[monthly.id, yearly.id], idempotency_key="x2"
        )
    assert billing.catalog.list_plans() == []


def test_quotes_convert_through_plugin_rates_and_record_them(billing: Billing) -> None:
    course = billing.catalog.create_product(name="Course", idempotency_key="c")
    price = billing.catalog.create_price(
        product_id=course.id, currency="USD", unit_amount=4900, idempotency_key="p"
    )
    quote = billing.catalog.quote(price, currency="GBP")
    # 4900 * 0.7874 = 3858.26 -> 3858 pence, rounded half-up once on the total.
    assert quote.subtotal == 3858
    assert quote.fx_rate is not None and quote.fx_rate.source == "t"
    with pytest.raises(FxRateUnavailableError):
        billing.catalog.quote(price, currency="CHF")


def test_customers_create_update_and_unique_external_ids(
    billing: Billing, recorder: Recorder
) -> None:
    profile = CustomerProfile(
        external_id="lms-user-1", email="ada@example.org", address={"country": "de"}
    )
    customer = billing.customers.create(profile, idempotency_key="cus1")
    assert customer.address is not None and customer.address.country == "DE"
    assert billing.customers.get_by_external_id("lms-user-1") == customer

    updated = billing.customers.update(
        customer.id, {"email": "ada@lovelace.example"}, idempotency_key="u1"
    )
    assert billing.customers.get(customer.id).email == "ada@lovelace.example" == updated.email
    with pytest.raises(ValidationError):
        billing.customers.update(customer.id, {"id": "cus_other"}, idempotency_key="u2")
    with pytest.raises(AlreadyExistsError):
        billing.customers.create(profile, idempotency_key="cus2")
    with pytest.raises(ValidationError):
        billing.customers.create({"external_id": "x", "locale": "xx_QQ"}, idempotency_key="c3")
    assert [e.type for e in recorder.events] == ["customer.created", "customer.updated"]
