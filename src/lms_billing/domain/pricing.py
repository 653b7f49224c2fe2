"""Pricing: turn a :class:`~lms_billing.domain.catalog.Price`, a quantity and a currency into
a :class:`Quote` of line items, with Stripe's semantics for every scheme.

Pure and integer-only until a currency conversion: amounts are minor units, and the one
rounding point is the FX conversion in :func:`_convert_minor`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Self

from pydantic import BaseModel, ConfigDict, model_validator

from lms_billing.domain.catalog import CurrencyOption, Price, PriceScheme, TaxBehavior, Tier
from lms_billing.domain.fx import FxRate
from lms_billing.errors import (
    CurrencyMismatchError,
    FxRateUnavailableError,
    InvalidAmountError,
    InvalidQuantityError,
)
from lms_billing.money import (
    DECIMAL_CONTEXT,
    DEFAULT_ROUNDING,
    CurrencyCode,
    Money,
    RoundingMode,
    allocate_minor,
    currency_code,
    from_minor_units,
    minor_digits,
    round_minor,
    rounding_mode,
)


class QuoteLine(BaseModel):
    """One priced part of a quote, in the quote's currency (minor units).

    ``quantity`` is the number of units this line prices (for a graduated price, the units
    that fall into ``tier_index``). ``unit_amount`` is per unit (per package for package
    prices) and ``flat_amount`` the tier's flat fee; both are ``None`` on FX-converted lines,
    whose per-unit price is not a whole number of minor units. ``amount`` is always exact.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str
    quantity: int
    unit_amount: int | None
    flat_amount: int | None = None
    amount: int
    tier_index: int | None = None
    package_count: int | None = None


class Quote(BaseModel):
    """What ``quantity`` of a price costs in ``currency``, before discounts and tax.

    ``fx_rate`` is the rate used when the price had no explicit amounts in ``currency``
    (then ``source_subtotal`` is the amount in the price's own currency); it is ``None`` when
    explicit per-currency amounts were used.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    price_id: str
    currency: CurrencyCode
    quantity: int
    lines: tuple[QuoteLine, ...]
    subtotal: int
    tax_behavior: TaxBehavior
    fx_rate: FxRate | None = None
    source_subtotal: int | None = None

    @model_validator(mode="after")
    def _lines_sum_to_subtotal(self) -> Self:
        if sum(line.amount for line in self.lines) != self.subtotal:
            raise InvalidAmountError("Quote lines must sum to the subtotal.")
        if (self.fx_rate is None) != (self.source_subtotal is None):
            raise InvalidAmountError("source_subtotal is set exactly when fx_rate is.")
        if self.fx_rate is not None and self.fx_rate.quote != self.currency:
            raise CurrencyMismatchError("The FX rate must quote the quote's currency.")
        return self

    @property
    def total_money(self) -> Money:
        """The subtotal as :class:`~lms_billing.money.Money` in the quote currency."""
        return from_minor_units(self.subtotal, self.currency)


def price_quote(
    price: Price,
    quantity: int,
    currency: str,
    *,
    fx_rate: FxRate | None = None,
    rounding: RoundingMode | str = DEFAULT_ROUNDING,
) -> Quote:
    """Quote ``quantity`` units of ``price`` in ``currency``.

    Explicit amounts for ``currency`` (the price's own or a ``currency_options`` entry) win.
    Otherwise ``fx_rate`` (``base`` = the price's currency, ``quote`` = ``currency``) converts
    the amount computed in the price's currency, rounding once with ``rounding``, and the
    quote records the rate. A quantity of 0 quotes nothing (no lines, subtotal 0).

    :raises InvalidQuantityError: for a negative or non-integer quantity.
    :raises UnknownCurrencyError: for an unknown currency code.
    :raises FxRateUnavailableError: when the currency is not listed and no rate is given.
    :raises CurrencyMismatchError: when ``fx_rate`` is for another currency pair.
    :raises InvalidRoundingModeError: for an unknown rounding mode, even when no FX conversion
        needs it (a typo must not wait for the first converted quote to surface).
    """
    mode = rounding_mode(rounding)
    units = _check_quantity(quantity)
    target = currency_code(currency)
    explicit = price.amounts_for(target)
    if explicit is not None:
        lines = _price_lines(price, explicit, units)
        return Quote(
            price_id=price.id,
            currency=target,
            quantity=units,
            lines=lines,
            subtotal=sum(line.amount for line in lines),
            tax_behavior=price.tax_behavior,
        )
    if fx_rate is None:
        raise FxRateUnavailableError(
            f"Price {price.id} has no {target} amounts and no FX rate was given.",
            price_id=price.id,
            currency=target,
            listed=list(price.currencies),
        )
    if fx_rate.base != price.currency or fx_rate.quote != target:
        raise CurrencyMismatchError(
            f"Need a {price.currency}->{target} rate, got {fx_rate.base}->{fx_rate.quote}.",
            price_currency=price.currency,
            currency=target,
        )
    own = CurrencyOption(unit_amount=price.unit_amount, tiers=price.tiers)
    source_lines = _price_lines(price, own, units)
    source_subtotal = sum(line.amount for line in source_lines)
    subtotal = _convert_minor(source_subtotal, price.currency, target, fx_rate.rate, mode)
    # Lines are shares of the one converted subtotal (largest remainder), so they sum to it
    # exactly instead of each line being rounded on its own.
    shares = allocate_minor(subtotal, [line.amount for line in source_lines]) if units else []
    lines = tuple(
        line.model_copy(update={"amount": share, "unit_amount": None, "flat_amount": None})
        for line, share in zip(source_lines, shares, strict=True)
    )
    return Quote(
        price_id=price.id,
        currency=target,
        quantity=units,
        lines=lines,
        subtotal=subtotal,
        tax_behavior=price.tax_behavior,
        fx_rate=fx_rate,
        source_subtotal=source_subtotal,
    )


def _check_quantity(quantity: object) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidQuantityError(
            f"Quantity must be an integer, got {quantity!r}.", quantity=repr(quantity)
        )
    if quantity < 0:
        raise InvalidQuantityError(f"Quantity must not be negative, got {quantity}.")
    return quantity


def _convert_minor(
    units: int, source: str, target: str, rate: Decimal, rounding: RoundingMode
) -> int:
    """``units`` of ``source`` in minor units of ``target`` at ``rate``.

    Exact Decimal arithmetic, then the single rounding point of an FX quote: the converted
    total is rounded once, with the caller's mode, to the target currency's minor unit
    (0 digits for JPY, 3 for KWD), never per unit or per line.
    """
    exact = DECIMAL_CONTEXT.multiply(Decimal(units), rate)
    shifted = exact.scaleb(minor_digits(target) - minor_digits(source), DECIMAL_CONTEXT)
    return round_minor(shifted, rounding)


def _price_lines(price: Price, amounts: CurrencyOption, units: int) -> tuple[QuoteLine, ...]:
    """Lines for ``units`` using one currency's amounts (validated by the Price model)."""
    if units == 0:
        return ()
    scheme = price.scheme
    if scheme is PriceScheme.FLAT:
        unit_amount = _required(amounts.unit_amount)
        # Flat: one fixed amount for the whole purchase, whatever the quantity.
        return (
            QuoteLine(
                description="Flat price",
                quantity=units,
                unit_amount=unit_amount,
                amount=unit_amount,
            ),
        )
    if scheme is PriceScheme.PER_UNIT:
        unit_amount = _required(amounts.unit_amount)
        return (
            QuoteLine(
                description=f"Per unit ({units} units)",
                quantity=units,
                unit_amount=unit_amount,
                amount=unit_amount * units,
            ),
        )
    if scheme is PriceScheme.PACKAGE:
        unit_amount = _required(amounts.unit_amount)
        size = _required(price.package_size)
        packages = -(-units // size)  # started packages count in full (Stripe: round up)
        return (
            QuoteLine(
                description=f"Package of {size} units x {packages} ({units} units)",
                quantity=units,
                unit_amount=unit_amount,
                amount=unit_amount * packages,
                package_count=packages,
            ),
        )
    if scheme is PriceScheme.VOLUME:
        return (_volume_line(amounts.tiers, units),)
    return _graduated_lines(amounts.tiers, units)


def _required(value: int | None) -> int:
    # The Price validators guarantee these fields for the scheme; this narrows the type.
    if value is None:  # pragma: no cover - unreachable for a validated Price
        raise InvalidAmountError("The price is missing an amount for its scheme.")
    return value


def _tier_label(tiers: tuple[Tier, ...], index: int) -> str:
    first = 1 if index == 0 else _bound(tiers[index - 1]) + 1
    up_to = tiers[index].up_to
    upper = "and above" if up_to is None else f"to {up_to}"
    return f"Tier {index + 1} (units {first} {upper})"


def _bound(tier: Tier) -> int:
    if tier.up_to is None:  # pragma: no cover - only the last tier is open-ended
        raise InvalidAmountError("Open-ended tier has no upper bound.")
    return tier.up_to


def _volume_line(tiers: tuple[Tier, ...], units: int) -> QuoteLine:
    # Volume: the single tier that contains the total quantity prices every unit.
    index = next(i for i, tier in enumerate(tiers) if tier.up_to is None or units <= tier.up_to)
    tier = tiers[index]
    return QuoteLine(
        description=f"Volume ({units} units), {_tier_label(tiers, index)}",
        quantity=units,
        unit_amount=tier.unit_amount,
        flat_amount=tier.flat_amount,
        amount=tier.unit_amount * units + tier.flat_amount,
        tier_index=index,
    )


def _graduated_lines(tiers: tuple[Tier, ...], units: int) -> tuple[QuoteLine, ...]:
    # Graduated: each tier prices the units that fall into it, plus its flat fee once reached.
    lines: list[QuoteLine] = []
    lower = 0  # units already priced by earlier tiers
    for index, tier in enumerate(tiers):
        upper = units if tier.up_to is None else min(units, tier.up_to)
        in_tier = upper - lower
        if in_tier <= 0:
            break
        lines.append(
            QuoteLine(
                description=_tier_label(tiers, index),
                quantity=in_tier,
                unit_amount=tier.unit_amount,
                flat_amount=tier.flat_amount,
                amount=tier.unit_amount * in_tier + tier.flat_amount,
                tier_index=index,
            )
        )
        lower = upper
    return tuple(lines)


__all__ = ["Quote", "QuoteLine", "price_quote"]
