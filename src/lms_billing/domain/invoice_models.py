"""Invoice data: statuses, lines, tax and discount amounts, and the computed totals.

The models are frozen; :mod:`lms_billing.domain.invoices` holds the functions that change
them (and re-exports every name here, so import from there). Totals are computed fields
derived from the lines, so they can never drift from them (integer minor units)::

    subtotal             sum of line amounts (inclusive-priced lines count gross)
    total_discount       sum of line discounts (negative parts on credit lines)
    total_excluding_tax  subtotal - total_discount - inclusive tax
    tax                  all tax, exclusive and inclusive
    total                subtotal - total_discount + exclusive tax (inclusive tax is inside)
    amount_due           total - applied customer balance - pre-payment credit notes, >= 0
    amount_remaining     amount_due - amount_paid

A negative total (credits larger than charges) is owed to the customer: finalization records
it as ``credited_to_balance`` and the invoice is paid at once (nothing is due).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from functools import cache, cached_property
from typing import Annotated, Any, Self, TypeVar, overload

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    computed_field,
    field_validator,
    model_validator,
)

from lms_billing.clock import ensure_aware
from lms_billing.domain.coupons import Coupon
from lms_billing.domain.customers import Address, TaxId
from lms_billing.domain.discounts import DiscountOrder
from lms_billing.domain.tax import TaxBehaviorValue, TaxLine, VatIdCheck
from lms_billing.errors import (
    InvalidAmountError,
    InvalidQuantityError,
    NotFoundError,
    ValidationError,
)
from lms_billing.money import (
    DEFAULT_ROUNDING,
    CurrencyCode,
    MinorUnits,
    RoundingMode,
    SignedMinorUnits,
)


def _quantity(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidQuantityError(f"Quantity must be a whole number >= 0, got {value!r}.")
    return value


Quantity = Annotated[int, BeforeValidator(_quantity)]


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"


TRANSITIONS: dict[InvoiceStatus, frozenset[InvoiceStatus]] = {
    InvoiceStatus.DRAFT: frozenset({InvoiceStatus.OPEN}),
    InvoiceStatus.OPEN: frozenset(
        {InvoiceStatus.PAID, InvoiceStatus.VOID, InvoiceStatus.UNCOLLECTIBLE}
    ),
    InvoiceStatus.UNCOLLECTIBLE: frozenset({InvoiceStatus.PAID, InvoiceStatus.VOID}),
    InvoiceStatus.PAID: frozenset(),
    InvoiceStatus.VOID: frozenset(),
}
"""Allowed status changes (Stripe's invoice lifecycle)."""


def can_transition(source: InvoiceStatus, target: InvoiceStatus) -> bool:
    """True when ``source -> target`` is an allowed invoice status change."""
    return target in TRANSITIONS[source]


class InvoiceLineKind(StrEnum):
    ONE_TIME = "one_time"
    SUBSCRIPTION = "subscription"


class Period(BaseModel):
    """The service period a line covers; ``end`` is exclusive."""

    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        start = ensure_aware(self.start, name="period.start")
        end = ensure_aware(self.end, name="period.end")
        if end < start:
            raise ValidationError("A period cannot end before it starts.")
        return self


class LineDiscountAmount(BaseModel):
    """The part of one coupon's discount allocated to a line; it has the line's sign (a
    discount on a credit line is negative: the credit shrinks)."""

    model_config = ConfigDict(frozen=True)

    coupon_id: str
    amount: SignedMinorUnits


class RemovedCoupon(BaseModel):
    """A coupon taken off a draft: on request, or because the draft stopped meeting its
    conditions (minimum amount, product restrictions) after its lines changed."""

    model_config = ConfigDict(frozen=True)

    coupon_id: str
    promotion_code_id: str | None = None
    reason: str = Field(
        description="'requested', or the failed condition: 'minimum_amount_not_met', "
        "'applies_to', 'coupon_currency_mismatch'."
    )
    message: str = ""
    removed_at: datetime

    @field_validator("removed_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return ensure_aware(value, name="removed_at")


class LineTaxAmount(BaseModel):
    """Tax on a line in one jurisdiction, copied from the tax engine's :class:`TaxLine`."""

    model_config = ConfigDict(frozen=True)

    jurisdiction: str
    tax_type: str
    rate: Decimal
    taxable_amount: SignedMinorUnits
    amount: SignedMinorUnits = Field(description="Negative on credit lines (prorations).")
    inclusive: bool = False
    reverse_charge: bool = False
    reason: str = ""

    @classmethod
    def from_tax_line(cls, line: TaxLine, *, sign: int = 1) -> LineTaxAmount:
        """Copy an engine's line; ``sign=-1`` mirrors it onto a credit line."""
        return cls(
            jurisdiction=line.jurisdiction,
            tax_type=line.tax_type,
            rate=line.rate,
            taxable_amount=sign * line.taxable_amount,
            amount=sign * line.tax_amount,
            inclusive=line.inclusive,
            reverse_charge=line.reverse_charge,
            reason=line.reason,
        )


_T = TypeVar("_T")
_MISSING = object()


class cached_total(cached_property[_T]):  # a decorator, named like cached_property
    """``functools.cached_property`` without the lock Python 3.11 takes on every first read
    (3.12 dropped it): totals are pure functions of a frozen model, so two threads computing
    one at once store the same value. A ``cached_property`` still, as pydantic's
    ``computed_field`` requires."""

    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> Self: ...
    @overload
    def __get__(self, instance: object, owner: type[Any] | None = None) -> _T: ...
    def __get__(self, instance: object | None, owner: type[Any] | None = None) -> Any:
        if instance is None:
            return self
        cache = instance.__dict__
        name = self.attrname
        assert name is not None  # set by __set_name__
        value = cache.get(name, _MISSING)
        if value is _MISSING:
            value = cache[name] = self.func(instance)
        return value


class _CachedTotals(BaseModel):
    """A frozen model whose derived totals are ``cached_total`` values (computed once, not
    on every read: a billing run reads an invoice's totals many times).

    ``model_copy`` copies ``__dict__``, cached values included, and ``update=`` may change
    what they derive from; so a copy keeps only the fields and recomputes its totals.
    """

    model_config = ConfigDict(ignored_types=(cached_total,))  # not fields (subclasses merge)

    def __copy__(self) -> Self:
        copied = super().__copy__()
        values = copied.__dict__
        for name in _cached_names(type(self)):
            values.pop(name, None)
        return copied


@cache
def _cached_names(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(
        name
        for klass in model.__mro__
        for name, member in vars(klass).items()
        if isinstance(member, cached_property)
    )


class InvoiceLine(_CachedTotals):
    """One invoice line. ``amount`` is before discounts; negative for proration credits.

    When ``unit_amount`` is given, ``amount`` must equal ``unit_amount * quantity``; tiered
    prices leave ``unit_amount`` empty and give the priced ``amount``.
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    description: str
    kind: InvoiceLineKind = InvoiceLineKind.ONE_TIME
    quantity: Quantity = 1
    unit_amount: SignedMinorUnits | None = None
    amount: SignedMinorUnits
    period: Period | None = None
    proration: bool = False
    price_id: str | None = None
    product_id: str | None = None
    tax_code: str | None = None
    tax_behavior: TaxBehaviorValue = "exclusive"
    discountable: bool = True
    discount_amounts: tuple[LineDiscountAmount, ...] = ()
    tax_amounts: tuple[LineTaxAmount, ...] = ()
    metadata: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> InvoiceLine:
        if self.unit_amount is not None and self.unit_amount * self.quantity != self.amount:
            raise InvalidAmountError(
                f"Line {self.id}: amount {self.amount} != unit_amount {self.unit_amount} x "
                f"quantity {self.quantity}.",
                line=self.id,
            )
        if not self.discount_amounts:
            return self
        sign = -1 if self.amount < 0 else 1
        if any(sign * d.amount < 0 for d in self.discount_amounts):
            raise InvalidAmountError(
                f"Line {self.id}: a discount must have the sign of the line's amount.",
                line=self.id,
            )
        if abs(self.discount) > abs(self.amount):
            raise InvalidAmountError(f"Line {self.id}: discount exceeds the amount.", line=self.id)
        return self

    @cached_total
    def discount(self) -> int:
        return sum(d.amount for d in self.discount_amounts)

    @cached_total
    def net_amount(self) -> int:
        """Amount after discounts: what tax is computed on (gross for inclusive lines)."""
        return self.amount - self.discount

    @cached_total
    def inclusive_tax(self) -> int:
        return sum(t.amount for t in self.tax_amounts if t.inclusive)

    @cached_total
    def exclusive_tax(self) -> int:
        return sum(t.amount for t in self.tax_amounts if not t.inclusive)

    @cached_total
    def tax(self) -> int:
        return self.inclusive_tax + self.exclusive_tax

    @cached_total
    def total(self) -> int:
        """What the buyer pays for this line: net amount plus exclusive tax."""
        return self.net_amount + self.exclusive_tax


class Invoice(_CachedTotals):
    """A bill. Totals are computed fields; state changes go through this module's functions."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    customer_id: str = Field(min_length=1)
    currency: CurrencyCode
    status: InvoiceStatus = InvoiceStatus.DRAFT
    number: str | None = None
    lines: tuple[InvoiceLine, ...] = ()
    coupons: tuple[Coupon, ...] = Field(default=(), description="Applied coupons (snapshots).")
    removed_coupons: tuple[RemovedCoupon, ...] = Field(
        default=(), description="Coupons taken off this draft, and why (oldest first)."
    )
    discount_order: DiscountOrder = DiscountOrder.PERCENT_FIRST
    rounding: RoundingMode = DEFAULT_ROUNDING
    tax_computed: bool = False
    tax_engine: str | None = None
    tax_notes: tuple[str, ...] = ()
    tax_needs_review: bool = False
    tax_review_reasons: tuple[str, ...] = ()
    tax_vat_id_checks: tuple[VatIdCheck, ...] = Field(
        default=(), description="VAT id verifications (VIES answers) the tax relied on."
    )
    applied_balance: MinorUnits = Field(default=0, description="Customer credit applied.")
    credited_to_balance: MinorUnits = Field(
        default=0,
        description="A negative total, credited to the customer's balance at finalization.",
    )
    amount_paid: MinorUnits = 0
    pre_payment_credit_notes_amount: MinorUnits = 0
    post_payment_credit_notes_amount: MinorUnits = 0
    paid_out_of_band: bool = False
    customer_name: str | None = None
    customer_email: str | None = None
    customer_address: Address | None = None
    customer_tax_ids: tuple[TaxId, ...] = ()
    subscription_id: str | None = None
    billing_reason: str | None = None
    description: str | None = None
    footer: str | None = None
    created_at: datetime
    due_date: datetime | None = None
    finalized_at: datetime | None = None
    paid_at: datetime | None = None
    voided_at: datetime | None = None
    marked_uncollectible_at: datetime | None = None
    metadata: dict[str, str] = Field(default_factory=dict)

    @field_validator(
        "created_at", "due_date", "finalized_at", "paid_at", "voided_at", "marked_uncollectible_at"
    )
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return None if value is None else ensure_aware(value)

    @computed_field
    @cached_total
    def subtotal(self) -> int:
        return sum(line.amount for line in self.lines)

    @computed_field
    @cached_total
    def total_discount(self) -> int:
        return sum(line.discount for line in self.lines)

    @computed_field
    @cached_total
    def tax(self) -> int:
        return sum(line.tax for line in self.lines)

    @computed_field
    @cached_total
    def total_excluding_tax(self) -> int:
        return self.subtotal - self.total_discount - sum(line.inclusive_tax for line in self.lines)

    @computed_field
    @cached_total
    def total(self) -> int:
        return sum(line.total for line in self.lines)

    @computed_field
    @cached_total
    def amount_due(self) -> int:
        # A net-negative invoice (proration credits) owes nothing; it never goes below zero.
        # Finalization credits the negative total to the customer (``credited_to_balance``).
        owed = self.total - self.applied_balance - self.pre_payment_credit_notes_amount
        return max(0, owed)

    @computed_field
    @cached_total
    def amount_remaining(self) -> int:
        return max(0, self.amount_due - self.amount_paid)

    def line(self, line_id: str) -> InvoiceLine:
        """The line with ``line_id``; :class:`NotFoundError` when absent."""
        for line in self.lines:
            if line.id == line_id:
                return line
        raise NotFoundError(f"Invoice {self.id} has no line {line_id}.", line=line_id)

    def tax_breakdown(self) -> list[TaxBreakdownRow]:
        """Tax grouped per (jurisdiction, type, rate, inclusive, reverse charge), for display."""
        rows: dict[tuple[str, str, Decimal, bool, bool], tuple[int, int]] = {}
        for line in self.lines:
            for t in line.tax_amounts:
                key = (t.jurisdiction, t.tax_type, t.rate, t.inclusive, t.reverse_charge)
                taxable, amount = rows.get(key, (0, 0))
                rows[key] = (taxable + t.taxable_amount, amount + t.amount)
        return [
            TaxBreakdownRow(
                jurisdiction=k[0],
                tax_type=k[1],
                rate=k[2],
                inclusive=k[3],
                reverse_charge=k[4],
                taxable_amount=v[0],
                amount=v[1],
            )
            for k, v in sorted(rows.items(), key=lambda item: (item[0][0], item[0][1], item[0][2]))
        ]


class TaxBreakdownRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    jurisdiction: str
    tax_type: str
    rate: Decimal
    inclusive: bool
    reverse_charge: bool
    taxable_amount: int
    amount: int


__all__ = [
    "TRANSITIONS",
    "Invoice",
    "InvoiceLine",
    "InvoiceLineKind",
    "InvoiceStatus",
    "LineDiscountAmount",
    "LineTaxAmount",
    "Period",
    "RemovedCoupon",
    "TaxBreakdownRow",
    "can_transition",
]
