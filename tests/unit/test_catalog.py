"""Catalog models: products, prices, plans and every bad-input error they raise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

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
    ProductProfile,
    Recurring,
    TaxBehavior,
    Tier,
)
from lms_billing.errors import (
    InvalidAmountError,
    InvalidIntervalError,
    InvalidQuantityError,
    InvalidTiersError,
    UnknownCurrencyError,
    ValidationError,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TIERS = (
    {"up_to": 5, "unit_amount": 500},
    {"up_to": 10, "unit_amount": 400},
    {"up_to": None, "unit_amount": 300},
)


def make_price(**fields: Any) -> Price:
    base: dict[str, Any] = {
        "product_id": "prod_test",
        "currency": "USD",
        "unit_amount": 1000,
        "created_at": NOW,
    }
    base.update(fields)
    return Price(**base)


# --- products and plans -------------------------------------------------------------------


def test_product_gets_a_prefixed_id_and_defaults() -> None:
    product = Product(name="Python 101", created_at=NOW)
    assert product.id.startswith("prod_")
    assert product.kind is ProductKind.COURSE
    assert product.active is True
    assert Product(name="Python 101", created_at=NOW).id != product.id


def test_product_from_course_service_profile() -> None:
    profile = ProductProfile(
        external_id="course-42", name="Data 201", kind=ProductKind.ADD_ON, metadata={"a": "b"}
    )
    product = Product.from_profile(profile, created_at=NOW, tax_code="txcd_10000000")
    assert (product.external_id, product.name, product.kind) == (
        "course-42",
        "Data 201",
        ProductKind.ADD_ON,
    )
    assert product.metadata == {"a": "b"}
    assert product.tax_code == "txcd_10000000"


def test_only_bundles_list_bundled_products() -> None:
    bundle = Product(
        name="All courses", kind=ProductKind.BUNDLE, bundled_product_ids=("prod_a",), created_at=NOW
    )
    assert bundle.bundled_product_ids == ("prod_a",)
    with pytest.raises(ValidationError):
        Product(name="One course", bundled_product_ids=("prod_a",), created_at=NOW)


def test_created_at_must_be_aware_and_is_normalized_to_utc() -> None:
    with pytest.raises(ValidationError):
        Product(name="x", created_at=datetime(2026, 1, 1))
    cest = timezone(timedelta(hours=2))
    product = Product(name="x", created_at=datetime(2026, 1, 1, 2, tzinfo=cest))
    assert product.created_at == NOW
    assert product.created_at.tzinfo == UTC


def test_plan_needs_distinct_prices() -> None:
    plan = Plan(name="Pro monthly", price_ids=("price_a", "price_b"), created_at=NOW)
    assert plan.id.startswith("plan_")
    with pytest.raises(ValidationError):
        Plan(name="Pro", price_ids=("price_a", "price_a"), created_at=NOW)


def test_models_are_frozen() -> None:
    price = make_price()
    with pytest.raises(Exception, match="frozen"):
        price.unit_amount = 5  # type: ignore[misc]


# --- prices: happy paths ------------------------------------------------------------------


def test_recurring_price_round_trips_through_json() -> None:
    price = make_price(
        type=PriceType.RECURRING,
        recurring={"interval": "month", "interval_count": 3},
        scheme=PriceScheme.GRADUATED,
        unit_amount=None,
        tiers=TIERS,
        currency_options={"eur": {"tiers": TIERS}},
        tax_behavior=TaxBehavior.INCLUSIVE,
        trial_period_days=14,
    )
    assert price.id.startswith("price_")
    assert price.recurring == Recurring(interval=Interval.MONTH, interval_count=3)
    assert Price.model_validate(price.model_dump(mode="json")) == price


def test_currency_codes_are_normalized_and_listed() -> None:
    price = make_price(
        currency="usd", currency_options={"jpy": {"unit_amount": 1500}, "eur": {"unit_amount": 900}}
    )
    assert price.currency == "USD"
    assert price.currencies == ("USD", "EUR", "JPY")
    assert price.amounts_for("eur") == CurrencyOption(unit_amount=900)
    assert price.amounts_for("USD") == CurrencyOption(unit_amount=1000)
    assert price.amounts_for("GBP") is None


def test_decimal_without_fraction_is_accepted_as_minor_units() -> None:
    assert make_price(unit_amount=Decimal("1999")).unit_amount == 1999


# --- prices: bad input --------------------------------------------------------------------

BAD_PRICES: list[tuple[str, dict[str, Any], type[ValidationError]]] = [
    ("negative amount", {"unit_amount": -1}, InvalidAmountError),
    ("float amount", {"unit_amount": 9.99}, InvalidAmountError),
    ("fractional Decimal", {"unit_amount": Decimal("999.5")}, InvalidAmountError),
    ("bool amount", {"unit_amount": True}, InvalidAmountError),
    ("flat without amount", {"unit_amount": None}, InvalidAmountError),
    ("per_unit without amount", {"scheme": "per_unit", "unit_amount": None}, InvalidAmountError),
    (
        "unit_amount on tiered",
        {"scheme": "graduated", "tiers": TIERS, "unit_amount": 100},
        InvalidAmountError,
    ),
    (
        "negative tier amount",
        {
            "scheme": "volume",
            "unit_amount": None,
            "tiers": [{"up_to": None, "unit_amount": -5}],
        },
        InvalidAmountError,
    ),
    (
        "float flat_amount",
        {
            "scheme": "volume",
            "unit_amount": None,
            "tiers": [{"up_to": None, "flat_amount": 1.0}],
        },
        InvalidAmountError,
    ),
    ("unknown currency", {"currency": "ABC"}, UnknownCurrencyError),
    ("test currency", {"currency": "XXX"}, UnknownCurrencyError),
    (
        "unknown option currency",
        {"currency_options": {"QQQ": {"unit_amount": 1}}},
        UnknownCurrencyError,
    ),
    (
        "option repeats own currency",
        {"currency_options": {"usd": {"unit_amount": 1}}},
        ValidationError,
    ),
    (
        "option listed twice",
        {
            "currency_options": {"eur": {"unit_amount": 1}, "EUR": {"unit_amount": 2}},
        },
        ValidationError,
    ),
    ("option without amount", {"currency_options": {"eur": {}}}, InvalidAmountError),
    (
        "option with float amount",
        {"currency_options": {"eur": {"unit_amount": 1.5}}},
        InvalidAmountError,
    ),
    (
        "empty graduated tiers",
        {"scheme": "graduated", "unit_amount": None, "tiers": []},
        InvalidTiersError,
    ),
    ("empty volume tiers", {"scheme": "volume", "unit_amount": None}, InvalidTiersError),
    (
        "overlapping tiers",
        {
            "scheme": "graduated",
            "unit_amount": None,
            "tiers": [{"up_to": 10}, {"up_to": 10}, {"up_to": None}],
        },
        InvalidTiersError,
    ),
    (
        "unsorted tiers",
        {
            "scheme": "graduated",
            "unit_amount": None,
            "tiers": [{"up_to": 10}, {"up_to": 5}, {"up_to": None}],
        },
        InvalidTiersError,
    ),
    (
        "no open-ended last tier",
        {
            "scheme": "volume",
            "unit_amount": None,
            "tiers": [{"up_to": 5}, {"up_to": 10}],
        },
        InvalidTiersError,
    ),
    (
        "open-ended tier in the middle",
        {
            "scheme": "volume",
            "unit_amount": None,
            "tiers": [{"up_to": None}, {"up_to": 10}, {"up_to": None}],
        },
        InvalidTiersError,
    ),
    (
        "zero up_to",
        {
            "scheme": "volume",
            "unit_amount": None,
            "tiers": [{"up_to": 0}, {"up_to": None}],
        },
        InvalidTiersError,
    ),
    (
        "fractional up_to",
        {
            "scheme": "volume",
            "unit_amount": None,
            "tiers": [{"up_to": 2.5}, {"up_to": None}],
        },
        InvalidTiersError,
    ),
    ("tiers on per_unit", {"scheme": "per_unit", "tiers": [{"up_to": None}]}, InvalidTiersError),
    ("tiers on flat", {"tiers": [{"up_to": None}]}, InvalidTiersError),
    (
        "option tiers with other bounds",
        {
            "scheme": "graduated",
            "unit_amount": None,
            "tiers": TIERS,
            "currency_options": {"eur": {"tiers": [{"up_to": 3}, {"up_to": None}]}},
        },
        InvalidTiersError,
    ),
    (
        "option tiers empty",
        {
            "scheme": "graduated",
            "unit_amount": None,
            "tiers": TIERS,
            "currency_options": {"eur": {"unit_amount": 5}},
        },
        InvalidAmountError,
    ),
    ("recurring without interval", {"type": "recurring"}, InvalidIntervalError),
    ("one_time with interval", {"recurring": {"interval": "month"}}, InvalidIntervalError),
    (
        "zero interval count",
        {
            "type": "recurring",
            "recurring": {"interval": "month", "interval_count": 0},
        },
        InvalidIntervalError,
    ),
    (
        "negative interval count",
        {
            "type": "recurring",
            "recurring": {"interval": "year", "interval_count": -1},
        },
        InvalidIntervalError,
    ),
    (
        "fractional interval count",
        {
            "type": "recurring",
            "recurring": {"interval": "week", "interval_count": 1.5},
        },
        InvalidIntervalError,
    ),
    (
        "unknown interval",
        {
            "type": "recurring",
            "recurring": {"interval": "fortnight"},
        },
        InvalidIntervalError,
    ),
    ("package without size", {"scheme": "package"}, InvalidQuantityError),
    ("package size zero", {"scheme": "package", "package_size": 0}, InvalidQuantityError),
    (
        "package without amount",
        {"scheme": "package", "package_size": 5, "unit_amount": None},
        InvalidAmountError,
    ),
    ("package_size on per_unit", {"scheme": "per_unit", "package_size": 5}, InvalidQuantityError),
    ("trial on one_time", {"trial_period_days": 7}, ValidationError),
    ("naive created_at", {"created_at": datetime(2026, 1, 1)}, ValidationError),
]


@pytest.mark.parametrize(
    ("fields", "error"),
    [pytest.param(fields, error, id=name) for name, fields, error in BAD_PRICES],
)
def test_bad_price_raises_its_specific_error(
    fields: dict[str, Any], error: type[ValidationError]
) -> None:
    with pytest.raises(error) as caught:
        make_price(**fields)
    # The exact class, not a subclass or a sibling that happens to share the base.
    assert type(caught.value) is error


def test_tier_defaults_to_zero_amounts() -> None:
    assert Tier(up_to=None) == Tier(up_to=None, unit_amount=0, flat_amount=0)


def test_recurring_interval_count_rejects_bool() -> None:
    with pytest.raises(InvalidIntervalError):
        Recurring(interval=Interval.DAY, interval_count=True)


@pytest.mark.parametrize("interval", [["month"], None, 3])
def test_recurring_interval_of_the_wrong_type(interval: Any) -> None:
    with pytest.raises(InvalidIntervalError):
        Recurring(interval=interval)
