"""Catalog: products (what is sold), prices (how it is charged) and plans (named offers).

Names and semantics follow Stripe Billing. Amounts are integer minor units in the price's
currency; a price can list explicit amounts for more currencies in ``currency_options``.
Every invalid combination raises a specific error from :mod:`lms_billing.errors` while the
model is being built, so a constructed :class:`Price` is always safe to quote.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from lms_billing.clock import ensure_aware
from lms_billing.errors import (
    InvalidAmountError,
    InvalidIntervalError,
    InvalidQuantityError,
    InvalidTiersError,
    ValidationError,
)
from lms_billing.ids import new_id
from lms_billing.money import CurrencyCode, currency_code, validate_minor_units


class ProductKind(StrEnum):
    COURSE = "course"
    BUNDLE = "bundle"
    ADD_ON = "add_on"
    MEMBERSHIP = "membership"


class PriceScheme(StrEnum):
    """How a quantity becomes an amount (Stripe: billing_scheme + tiers_mode + transform)."""

    FLAT = "flat"  # one fixed amount for the whole purchase
    PER_UNIT = "per_unit"  # unit_amount * quantity (seats)
    GRADUATED = "graduated"  # each tier prices the units that fall into it
    VOLUME = "volume"  # the tier holding the total quantity prices every unit
    PACKAGE = "package"  # unit_amount per started package of package_size units


TIERED_SCHEMES: frozenset[PriceScheme] = frozenset({PriceScheme.GRADUATED, PriceScheme.VOLUME})


class PriceType(StrEnum):
    ONE_TIME = "one_time"
    RECURRING = "recurring"


class Interval(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


MAX_INTERVAL_COUNT: Mapping[Interval, int] = {
    Interval.DAY: 1095,
    Interval.WEEK: 156,
    Interval.MONTH: 36,
    Interval.YEAR: 3,
}
"""The longest interval_count per interval: three years at most, as Stripe allows."""


def check_interval_count(interval: Interval, count: int) -> int:
    """``count`` when it is a positive billing interval of at most three years
    (:data:`MAX_INTERVAL_COUNT`), else :class:`InvalidIntervalError`."""
    limit = MAX_INTERVAL_COUNT[interval]
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= limit:
        raise InvalidIntervalError(
            f"interval_count for interval={interval.value} must be from 1 to {limit} "
            f"(three years at most), got {count!r}.",
            interval=interval.value,
            interval_count=repr(count),
            max_interval_count=limit,
        )
    return count


class TaxBehavior(StrEnum):
    """Whether the amounts already include tax (Stripe's ``tax_behavior``)."""

    INCLUSIVE = "inclusive"
    EXCLUSIVE = "exclusive"
    UNSPECIFIED = "unspecified"


# --- small validators ---------------------------------------------------------------------


def _minor_or_none(value: object) -> int | None:
    return None if value is None else validate_minor_units(value)


def _aware(value: datetime) -> datetime:
    # After pydantic parsed it (JSON strings too): naive times are rejected, aware -> UTC.
    return ensure_aware(value, name="created_at")


def _whole_number(value: object, *, name: str, error: type[ValidationError]) -> int:
    """A plain ``int`` (never bool, float or str), else ``error``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"{name} must be an integer, got {value!r}.", value=repr(value))
    return int(value)


UtcDatetime = Annotated[datetime, AfterValidator(_aware)]
OptionalMinorUnits = Annotated[int | None, BeforeValidator(_minor_or_none)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- products ---------------------------------------------------------------------------


class ProductProfile(_Frozen):
    """What the LMS Course Service knows about a product (returned by ``ProductCatalog``)."""

    external_id: str = Field(min_length=1, description="The LMS course / bundle id.")
    name: str = Field(min_length=1)
    kind: ProductKind = ProductKind.COURSE
    description: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)


class Product(_Frozen):
    """What is sold: a course, a bundle of courses, an add-on or a membership."""

    id: str = Field(default_factory=lambda: new_id("prod"))
    name: str = Field(min_length=1)
    kind: ProductKind = ProductKind.COURSE
    description: str | None = None
    active: bool = True
    external_id: str | None = None
    bundled_product_ids: tuple[str, ...] = ()
    tax_code: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    created_at: UtcDatetime

    @model_validator(mode="after")
    def _bundles_only(self) -> Self:
        if self.bundled_product_ids and self.kind is not ProductKind.BUNDLE:
            raise ValidationError(
                "Only bundles can list bundled_product_ids.", product_kind=str(self.kind)
            )
        if self.id in self.bundled_product_ids:
            raise ValidationError("A bundle cannot contain itself.", product_id=self.id)
        return self

    @classmethod
    def from_profile(
        cls, profile: ProductProfile, *, created_at: datetime, **fields: Any
    ) -> Product:
        """A new product for a Course Service profile; ``fields`` override or add fields."""
        base: dict[str, Any] = {
            "name": profile.name,
            "kind": profile.kind,
            "description": profile.description,
            "external_id": profile.external_id,
            "metadata": dict(profile.metadata),
            "created_at": created_at,
        }
        base.update(fields)
        return cls(**base)


# --- prices -----------------------------------------------------------------------------


class Recurring(_Frozen):
    """Bill every ``interval_count`` ``interval``s (e.g. every 3 months)."""

    interval: Interval
    interval_count: int = 1

    @field_validator("interval", mode="before")
    @classmethod
    def _known_interval(cls, value: object) -> object:
        if not isinstance(value, str) or value not in {i.value for i in Interval}:
            raise InvalidIntervalError(f"Unknown interval {value!r}.", interval=repr(value))
        return value

    @field_validator("interval_count", mode="before")
    @classmethod
    def _positive_count(cls, value: object) -> int:
        count = _whole_number(value, name="interval_count", error=InvalidIntervalError)
        if count < 1:
            raise InvalidIntervalError(
                f"interval_count must be at least 1, got {count}.", interval_count=count
            )
        return count

    @model_validator(mode="after")
    def _at_most_three_years(self) -> Self:
        check_interval_count(self.interval, self.interval_count)
        return self


class Tier(_Frozen):
    """One tier: up to and including ``up_to`` units (``None`` = and beyond)."""

    up_to: int | None
    unit_amount: int = 0
    flat_amount: int = 0

    @field_validator("up_to", mode="before")
    @classmethod
    def _positive_bound(cls, value: object) -> int | None:
        if value is None:
            return None
        bound = _whole_number(value, name="up_to", error=InvalidTiersError)
        if bound < 1:
            raise InvalidTiersError(f"Tier up_to must be at least 1, got {bound}.", up_to=bound)
        return bound

    @field_validator("unit_amount", "flat_amount", mode="before")
    @classmethod
    def _minor(cls, value: object) -> int:
        return validate_minor_units(value)


class CurrencyOption(_Frozen):
    """Explicit amounts for one extra currency; same shape rules as the price's own."""

    unit_amount: OptionalMinorUnits = None
    tiers: tuple[Tier, ...] = ()


def _check_amounts(
    scheme: PriceScheme, unit_amount: int | None, tiers: tuple[Tier, ...], currency: str
) -> None:
    """The unit_amount/tiers a scheme needs, for the default currency or one option."""
    if scheme in TIERED_SCHEMES:
        if unit_amount is not None:
            raise InvalidAmountError(
                f"A {scheme} price takes its amounts from tiers, not unit_amount.",
                currency=currency,
            )
        _check_tiers(tiers, currency)
        return
    if tiers:
        raise InvalidTiersError(f"A {scheme} price cannot have tiers.", currency=currency)
    if unit_amount is None:
        raise InvalidAmountError(f"A {scheme} price needs unit_amount.", currency=currency)


def _check_tiers(tiers: tuple[Tier, ...], currency: str) -> None:
    if not tiers:
        raise InvalidTiersError("Tiered prices need at least one tier.", currency=currency)
    if tiers[-1].up_to is not None:
        raise InvalidTiersError("The last tier must be open-ended (up_to=None).", currency=currency)
    previous = 0
    for index, tier in enumerate(tiers[:-1]):
        if tier.up_to is None:
            raise InvalidTiersError(
                "Only the last tier can be open-ended.", currency=currency, tier=index
            )
        if tier.up_to <= previous:
            raise InvalidTiersError(
                "Tiers must be sorted by up_to with no overlap.",
                currency=currency,
                tier=index,
                up_to=tier.up_to,
            )
        previous = tier.up_to


class Price(_Frozen):
    """How a product is charged. Amounts are minor units of ``currency``."""

    id: str = Field(default_factory=lambda: new_id("price"))
    product_id: str = Field(min_length=1)
    currency: CurrencyCode
    type: PriceType = PriceType.ONE_TIME
    recurring: Recurring | None = None
    scheme: PriceScheme = PriceScheme.FLAT
    unit_amount: OptionalMinorUnits = None
    tiers: tuple[Tier, ...] = ()
    package_size: int | None = None
    currency_options: dict[str, CurrencyOption] = Field(default_factory=dict)
    tax_behavior: TaxBehavior = TaxBehavior.UNSPECIFIED
    lookup_key: str | None = None
    nickname: str | None = None
    active: bool = True
    trial_period_days: int | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    created_at: UtcDatetime

    @field_validator("package_size", mode="before")
    @classmethod
    def _package_size(cls, value: object) -> int | None:
        if value is None:
            return None
        size = _whole_number(value, name="package_size", error=InvalidQuantityError)
        if size < 1:
            raise InvalidQuantityError(
                f"package_size must be at least 1, got {size}.", package_size=size
            )
        return size

    @field_validator("trial_period_days", mode="before")
    @classmethod
    def _trial_days(cls, value: object) -> int | None:
        if value is None:
            return None
        days = _whole_number(value, name="trial_period_days", error=ValidationError)
        if days < 1:
            raise ValidationError("trial_period_days must be at least 1.", value=days)
        return days

    @field_validator("currency_options", mode="before")
    @classmethod
    def _normalize_option_codes(cls, value: object) -> object:
        if not isinstance(value, Mapping):
            return value  # pydantic reports the wrong type
        normalized: dict[str, object] = {}
        for code, option in value.items():
            key = currency_code(code)  # raises UnknownCurrencyError
            if key in normalized:
                raise ValidationError(f"Currency {key} is listed twice.", currency=key)
            normalized[key] = option
        return normalized

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.type is PriceType.RECURRING and self.recurring is None:
            raise InvalidIntervalError("A recurring price needs `recurring` (interval).")
        if self.type is PriceType.ONE_TIME and self.recurring is not None:
            raise InvalidIntervalError("A one_time price cannot have `recurring`.")
        if self.trial_period_days is not None and self.type is not PriceType.RECURRING:
            raise ValidationError("Only recurring prices can have trial_period_days.")
        if self.scheme is PriceScheme.PACKAGE and self.package_size is None:
            raise InvalidQuantityError("A package price needs package_size.")
        if self.scheme is not PriceScheme.PACKAGE and self.package_size is not None:
            raise InvalidQuantityError(f"A {self.scheme} price cannot have package_size.")
        _check_amounts(self.scheme, self.unit_amount, self.tiers, self.currency)
        bounds = [tier.up_to for tier in self.tiers]
        for code, option in self.currency_options.items():
            if code == self.currency:
                raise ValidationError(
                    f"{code} is the price's own currency; set its amounts on the price.",
                    currency=code,
                )
            _check_amounts(self.scheme, option.unit_amount, option.tiers, code)
            # Same boundaries in every currency, so a quantity lands in the same tier.
            if [tier.up_to for tier in option.tiers] != bounds:
                raise InvalidTiersError(
                    f"The {code} tiers must use the same up_to bounds as the {self.currency} "
                    "tiers.",
                    currency=code,
                )
        return self

    @property
    def currencies(self) -> tuple[str, ...]:
        """Every currency with explicit amounts: the price's own first, then the options."""
        return (self.currency, *sorted(self.currency_options))

    def amounts_for(self, currency: str) -> CurrencyOption | None:
        """The explicit unit_amount/tiers for ``currency``, or None when it is not listed."""
        code = currency_code(currency)
        if code == self.currency:
            return CurrencyOption(unit_amount=self.unit_amount, tiers=self.tiers)
        return self.currency_options.get(code)


class Plan(_Frozen):
    """A named recurring offer made of prices, e.g. "Pro monthly"."""

    id: str = Field(default_factory=lambda: new_id("plan"))
    name: str = Field(min_length=1)
    price_ids: tuple[str, ...] = Field(min_length=1)
    active: bool = True
    metadata: dict[str, str] = Field(default_factory=dict)
    created_at: UtcDatetime

    @field_validator("price_ids")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValidationError("A plan lists the same price twice.")
        return value


__all__ = [
    "MAX_INTERVAL_COUNT",
    "TIERED_SCHEMES",
    "CurrencyOption",
    "Interval",
    "Plan",
    "Price",
    "PriceScheme",
    "PriceType",
    "Product",
    "ProductKind",
    "ProductProfile",
    "Recurring",
    "TaxBehavior",
    "Tier",
    "check_interval_count",
]
