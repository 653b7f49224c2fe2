"""price_quote: Stripe's tier semantics, packages, multi-currency and FX conversion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lms_billing.domain.catalog import Price, PriceScheme, TaxBehavior
from lms_billing.domain.fx import FxRate
from lms_billing.domain.pricing import Quote, price_quote
from lms_billing.errors import (
    CurrencyMismatchError,
    FxRateUnavailableError,
    InvalidQuantityError,
    InvalidRoundingModeError,
    UnknownCurrencyError,
    ValidationError,
)
from lms_billing.money import Money, RoundingMode, minor_digits

NOW = datetime(2026, 1, 1, tzinfo=UTC)

# Stripe's documented tiers ("Set up tiered pricing", Typographic): 1-5 fonts 7 USD,
# 6-10 fonts 6.50 USD, 11+ fonts 6 USD.
STRIPE_TIERS = (
    {"up_to": 5, "unit_amount": 700},
    {"up_to": 10, "unit_amount": 650},
    {"up_to": None, "unit_amount": 600},
)
# The same shape with round numbers: 1-5 at $5, 6-10 at $4, 11+ at $3.
SIMPLE_TIERS = (
    {"up_to": 5, "unit_amount": 500},
    {"up_to": 10, "unit_amount": 400},
    {"up_to": None, "unit_amount": 300},
)


def make_price(**fields: Any) -> Price:
    base: dict[str, Any] = {"product_id": "prod_test", "currency": "USD", "created_at": NOW}
    base.update(fields)
    return Price(**base)


def tiered(scheme: PriceScheme, tiers: Any = SIMPLE_TIERS, **fields: Any) -> Price:
    return make_price(scheme=scheme, tiers=tiers, **fields)


def usd_to(quote: str, rate: str) -> FxRate:
    return FxRate(base="USD", quote=quote, rate=Decimal(rate), as_of=NOW, source="test")


# --- Stripe's documented tier examples ----------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "total"),
    [(1, 700), (5, 3500), (6, 3900), (20, 12000), (25, 15000)],
)
def test_volume_matches_stripe_docs(quantity: int, total: int) -> None:
    quote = price_quote(tiered(PriceScheme.VOLUME, STRIPE_TIERS), quantity, "USD")
    assert quote.subtotal == total


@pytest.mark.parametrize(
    ("quantity", "total"),
    # 6 = 5 x 7 + 1 x 6.50; 20 = 5 x 7 + 5 x 6.50 + 10 x 6; 25 adds 5 more at 6.
    [(1, 700), (5, 3500), (6, 4150), (20, 12750), (25, 15750)],
)
def test_graduated_matches_stripe_docs(quantity: int, total: int) -> None:
    quote = price_quote(tiered(PriceScheme.GRADUATED, STRIPE_TIERS), quantity, "USD")
    assert quote.subtotal == total


def test_graduated_prices_each_tier_on_its_own_line() -> None:
    quote = price_quote(tiered(PriceScheme.GRADUATED), 15, "USD")
    assert quote.subtotal == 5 * 500 + 5 * 400 + 5 * 300 == 6000
    assert [(line.tier_index, line.quantity, line.amount) for line in quote.lines] == [
        (0, 5, 2500),
        (1, 5, 2000),
        (2, 5, 1500),
    ]
    assert quote.total_money == Money("60.00", "USD")


def test_volume_prices_every_unit_at_the_tier_of_the_total() -> None:
    price = tiered(PriceScheme.VOLUME)
    assert price_quote(price, 15, "USD").subtotal == 15 * 300 == 4500
    quote = price_quote(price, 6, "USD")
    assert quote.subtotal == 6 * 400 == 2400
    (line,) = quote.lines
    assert (line.tier_index, line.quantity, line.unit_amount) == (1, 6, 400)


def test_tier_boundaries_are_inclusive() -> None:
    graduated = tiered(PriceScheme.GRADUATED)
    volume = tiered(PriceScheme.VOLUME)
    assert price_quote(graduated, 5, "USD").subtotal == 2500
    assert price_quote(graduated, 10, "USD").subtotal == 4500
    assert price_quote(graduated, 11, "USD").subtotal == 4800
    assert price_quote(volume, 10, "USD").subtotal == 4000
    assert price_quote(volume, 11, "USD").subtotal == 3300


FLAT_FEE_TIERS = (
    # A base fee of $10 covers the first 5 seats, then $4 per seat, then $3 plus a $5 fee.
    {"up_to": 5, "unit_amount": 0, "flat_amount": 1000},
    {"up_to": 10, "unit_amount": 400},
    {"up_to": None, "unit_amount": 300, "flat_amount": 500},
)


def test_graduated_adds_the_flat_fee_of_every_tier_reached() -> None:
    price = tiered(PriceScheme.GRADUATED, FLAT_FEE_TIERS)
    assert price_quote(price, 3, "USD").subtotal == 1000
    assert price_quote(price, 7, "USD").subtotal == 1000 + 2 * 400 == 1800
    quote = price_quote(price, 12, "USD")
    assert quote.subtotal == 1000 + 5 * 400 + (2 * 300 + 500) == 4100
    assert [line.flat_amount for line in quote.lines] == [1000, 0, 500]


def test_volume_adds_only_the_flat_fee_of_its_tier() -> None:
    price = tiered(PriceScheme.VOLUME, FLAT_FEE_TIERS)
    assert price_quote(price, 3, "USD").subtotal == 1000
    assert price_quote(price, 12, "USD").subtotal == 12 * 300 + 500 == 4100
    assert price_quote(price, 7, "USD").subtotal == 7 * 400 == 2800


# --- flat, per unit, package --------------------------------------------------------------


def test_flat_is_one_amount_whatever_the_quantity() -> None:
    price = make_price(scheme=PriceScheme.FLAT, unit_amount=4900)
    assert price_quote(price, 1, "USD").subtotal == 4900
    assert price_quote(price, 3, "USD").subtotal == 4900


def test_per_unit_multiplies_by_quantity() -> None:
    quote = price_quote(make_price(scheme=PriceScheme.PER_UNIT, unit_amount=1250), 4, "USD")
    (line,) = quote.lines
    assert (line.quantity, line.unit_amount, line.amount) == (4, 1250, 5000)


@pytest.mark.parametrize(
    ("quantity", "packages"), [(1, 1), (5, 1), (6, 2), (8, 2), (10, 2), (11, 3)]
)
def test_package_rounds_started_packages_up(quantity: int, packages: int) -> None:
    price = make_price(scheme=PriceScheme.PACKAGE, unit_amount=500, package_size=5)
    quote = price_quote(price, quantity, "USD")
    assert quote.subtotal == packages * 500
    assert quote.lines[0].package_count == packages


def test_package_example_from_docs() -> None:
    price = make_price(scheme=PriceScheme.PACKAGE, unit_amount=500, package_size=5)
    assert price_quote(price, 8, "USD").subtotal == 1000


@pytest.mark.parametrize("scheme", list(PriceScheme))
def test_quantity_zero_quotes_nothing(scheme: PriceScheme) -> None:
    fields: dict[str, Any] = {"scheme": scheme}
    if scheme in (PriceScheme.GRADUATED, PriceScheme.VOLUME):
        fields["tiers"] = FLAT_FEE_TIERS
    else:
        fields["unit_amount"] = 500
    if scheme is PriceScheme.PACKAGE:
        fields["package_size"] = 5
    quote = price_quote(make_price(**fields), 0, "USD")
    assert (quote.lines, quote.subtotal) == ((), 0)


@pytest.mark.parametrize("quantity", [-1, 1.5, Decimal(2), True, "3", None])
def test_bad_quantity_is_rejected(quantity: Any) -> None:
    price = make_price(scheme=PriceScheme.PER_UNIT, unit_amount=100)
    with pytest.raises(InvalidQuantityError):
        price_quote(price, quantity, "USD")


def test_quote_carries_tax_behavior_and_price_id() -> None:
    price = make_price(unit_amount=100, tax_behavior=TaxBehavior.INCLUSIVE)
    quote = price_quote(price, 1, "usd")
    assert (quote.price_id, quote.currency, quote.tax_behavior) == (
        price.id,
        "USD",
        TaxBehavior.INCLUSIVE,
    )
    assert quote.fx_rate is None and quote.source_subtotal is None


# --- multi-currency -----------------------------------------------------------------------


def multi_currency_price() -> Price:
    return make_price(
        scheme=PriceScheme.PER_UNIT,
        unit_amount=1999,
        currency_options={"eur": {"unit_amount": 1899}, "jpy": {"unit_amount": 2900}},
    )


def test_explicit_currency_amounts_win_over_fx() -> None:
    price = multi_currency_price()
    eur = price_quote(price, 2, "EUR", fx_rate=usd_to("EUR", "0.5"))
    assert (eur.subtotal, eur.fx_rate) == (3798, None)
    assert eur.total_money == Money("37.98", "EUR")
    jpy = price_quote(price, 2, "JPY")
    assert jpy.subtotal == 5800
    assert jpy.total_money == Money("5800", "JPY")


def test_explicit_tiers_per_currency() -> None:
    eur_tiers = [{"up_to": 5, "unit_amount": 450}, {"up_to": 10}, {"up_to": None}]
    price = tiered(PriceScheme.GRADUATED, currency_options={"EUR": {"tiers": eur_tiers}})
    assert price_quote(price, 7, "EUR").subtotal == 5 * 450


def test_fx_converted_quote_records_the_rate() -> None:
    rate = usd_to("GBP", "0.7912")
    quote = price_quote(multi_currency_price(), 3, "GBP", fx_rate=rate)
    # 3 x 19.99 USD = 59.97 USD; x 0.7912 = 47.448264 GBP -> 47.45 (HALF_UP, once).
    assert quote.source_subtotal == 5997
    assert quote.subtotal == 4745
    assert quote.fx_rate == rate
    assert quote.total_money == Money("47.45", "GBP")
    assert quote.lines[0].unit_amount is None


def test_fx_rounding_mode_is_the_callers() -> None:
    rate = usd_to("GBP", "0.5")
    price = make_price(unit_amount=1)  # 0.01 USD -> 0.005 GBP: exactly half a penny
    assert price_quote(price, 1, "GBP", fx_rate=rate).subtotal == 1
    down = price_quote(price, 1, "GBP", fx_rate=rate, rounding=RoundingMode.HALF_EVEN)
    assert down.subtotal == 0
    assert price_quote(price, 1, "GBP", fx_rate=rate, rounding="half_even").subtotal == 0


def test_unknown_rounding_mode_is_refused_even_without_conversion() -> None:
    price = make_price(unit_amount=1999)  # explicit USD amount: no FX rounding needed
    with pytest.raises(InvalidRoundingModeError):
        price_quote(price, 1, "USD", rounding="half_sideways")


@pytest.mark.parametrize(
    ("currency", "rate", "expected"),
    [
        ("JPY", "156.37", 3126),  # 19.99 x 156.37 = 3125.8363 -> 3126 yen (0 digits)
        ("KWD", "0.3071", 6139),  # 19.99 x 0.3071 = 6.138929 -> 6.139 KWD (3 digits)
    ],
)
def test_fx_into_zero_and_three_decimal_currencies(currency: str, rate: str, expected: int) -> None:
    price = make_price(unit_amount=1999)
    assert price_quote(price, 1, currency, fx_rate=usd_to(currency, rate)).subtotal == expected


def test_fx_from_a_zero_decimal_currency() -> None:
    price = make_price(currency="JPY", unit_amount=1500)
    rate = FxRate(base="JPY", quote="USD", rate=Decimal("0.0064"), as_of=NOW, source="test")
    assert price_quote(price, 1, "USD", fx_rate=rate).subtotal == 960  # 1500 x 0.0064 = 9.60


def test_unlisted_currency_without_a_rate_is_unavailable() -> None:
    with pytest.raises(FxRateUnavailableError):
        price_quote(multi_currency_price(), 1, "GBP")


@pytest.mark.parametrize(
    "rate",
    [
        usd_to("CHF", "0.9"),  # wrong quote currency
        FxRate(base="EUR", quote="GBP", rate=Decimal("0.85"), as_of=NOW, source="test"),
    ],
)
def test_rate_for_another_pair_is_a_mismatch(rate: FxRate) -> None:
    with pytest.raises(CurrencyMismatchError):
        price_quote(multi_currency_price(), 1, "GBP", fx_rate=rate)


def test_fx_rate_as_of_must_be_aware_and_is_kept_in_utc() -> None:
    with pytest.raises(ValidationError):
        FxRate(base="USD", quote="EUR", rate=Decimal("0.9"), as_of=datetime(2026, 1, 1), source="t")
    berlin = timezone(timedelta(hours=1))
    rate = FxRate(
        base="USD", quote="EUR", rate=Decimal("0.9"), as_of=datetime(2026, 1, 1, 1, tzinfo=berlin),
        source="t",
    )
    assert rate.as_of == datetime(2026, 1, 1, tzinfo=UTC) and rate.as_of.tzinfo is UTC


@pytest.mark.parametrize(("base", "quote"), [("USD", "USD"), ("usd", "USD"), ("EUR", "eur")])
def test_fx_rate_needs_two_different_currencies(base: str, quote: str) -> None:
    with pytest.raises(ValidationError):
        FxRate(base=base, quote=quote, rate=Decimal("2"), as_of=NOW, source="t")


def test_unknown_quote_currency() -> None:
    with pytest.raises(UnknownCurrencyError):
        price_quote(multi_currency_price(), 1, "ZZZ")


# --- properties -------------------------------------------------------------------------

amounts = st.integers(min_value=0, max_value=100_000)


@st.composite
def tier_lists(draw: st.DrawFn) -> list[dict[str, Any]]:
    bounds = sorted(draw(st.sets(st.integers(min_value=1, max_value=200), max_size=5)))
    ups: list[int | None] = [*bounds, None]
    return [{"up_to": up, "unit_amount": draw(amounts), "flat_amount": draw(amounts)} for up in ups]


@settings(max_examples=60, deadline=None)
@given(tiers=tier_lists(), quantity=st.integers(min_value=0, max_value=400))
def test_graduated_is_monotone_and_sums_its_tiers(
    tiers: list[dict[str, Any]], quantity: int
) -> None:
    price = tiered(PriceScheme.GRADUATED, tiers)
    quote = price_quote(price, quantity, "USD")
    assert price_quote(price, quantity + 1, "USD").subtotal >= quote.subtotal
    # Independent reference: units falling in each tier, plus the fee of each tier reached.
    expected, lower = 0, 0
    for tier in tiers:
        upper = quantity if tier["up_to"] is None else min(quantity, tier["up_to"])
        if upper > lower:
            expected += (upper - lower) * tier["unit_amount"] + tier["flat_amount"]
            lower = upper
    assert quote.subtotal == expected == sum(line.amount for line in quote.lines)
    assert sum(line.quantity for line in quote.lines) == quantity


@settings(max_examples=60, deadline=None)
@given(unit=amounts, quantity=st.integers(min_value=0, max_value=10_000))
def test_per_unit_is_quantity_times_unit(unit: int, quantity: int) -> None:
    price = make_price(scheme=PriceScheme.PER_UNIT, unit_amount=unit)
    assert price_quote(price, quantity, "USD").subtotal == quantity * unit


@settings(max_examples=60, deadline=None)
@given(
    tiers=tier_lists(),
    quantity=st.integers(min_value=1, max_value=400),
    currency=st.sampled_from(["JPY", "EUR", "KWD", "BHD", "GBP"]),
    rate=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("500"), places=4),
    rounding=st.sampled_from(list(RoundingMode)),
)
def test_fx_quote_is_whole_target_minor_units_within_one_unit(
    tiers: list[dict[str, Any]],
    quantity: int,
    currency: str,
    rate: Decimal,
    rounding: RoundingMode,
) -> None:
    price = tiered(PriceScheme.GRADUATED, tiers)
    quote: Quote = price_quote(
        price, quantity, currency, fx_rate=usd_to(currency, str(rate)), rounding=rounding
    )
    assert quote.source_subtotal is not None
    exact = Decimal(quote.source_subtotal) * rate * Decimal(10) ** (minor_digits(currency) - 2)
    assert abs(quote.subtotal - exact) < 1  # rounded once, to the target's minor unit
    assert sum(line.amount for line in quote.lines) == quote.subtotal
    major = quote.total_money.amount
    assert major == major.quantize(Decimal(1).scaleb(-minor_digits(currency)))
