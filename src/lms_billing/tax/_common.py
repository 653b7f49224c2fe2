"""Helpers shared by the built-in engines (private)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from lms_billing.domain.customers import TaxExempt, TaxId
from lms_billing.domain.tax import TaxCustomer, TaxReason, TaxRequest, TaxResult
from lms_billing.money import from_minor_units
from lms_billing.tax.compute import TaxDecision, compute_tax_lines

REVERSE_CHARGE_NOTE = "Reverse charge"
ZERO = Decimal(0)


def uniform(
    request: TaxRequest,
    jurisdiction: str,
    tax_type: str,
    rate: Decimal,
    reason: str,
    *,
    reverse_charge: bool = False,
) -> list[TaxDecision]:
    """The same decision for every item of the request."""
    return [
        TaxDecision(item.line_id, jurisdiction, tax_type, rate, reason, reverse_charge)
        for item in request.items
    ]


def finish(
    engine: str,
    request: TaxRequest,
    decisions: Sequence[TaxDecision],
    notes: Iterable[str] = (),
) -> TaxResult:
    """Compute the lines with the seller's rounding settings and wrap them in a result."""
    lines = compute_tax_lines(
        request.items,
        decisions,
        rounding=request.seller.tax_rounding,
        mode=request.seller.rounding_mode,
    )
    return TaxResult(engine=engine, lines=lines, notes=tuple(dict.fromkeys(notes)))


def review(engine: str, reasons: Iterable[str]) -> TaxResult:
    """A result that computes nothing and asks a person to look: never a silent zero."""
    return TaxResult(engine=engine, needs_review=True, review_reasons=tuple(reasons))


def find_tax_id(customer: TaxCustomer, types: Iterable[str]) -> TaxId | None:
    """The customer's first tax id of one of ``types``."""
    wanted = set(types)
    return next((tax_id for tax_id in customer.tax_ids if tax_id.type in wanted), None)


def self_accounts(customer: TaxCustomer) -> bool:
    """Stripe's ``tax_exempt="reverse"``: the buyer accounts for the tax itself."""
    return customer.tax_exempt == TaxExempt.REVERSE


@dataclass(frozen=True, slots=True)
class RegistrationThreshold:
    """From ``start``: taxable sales (minor units of the threshold's currency) a seller may make
    before it must register. ``0`` means no threshold: register before the first sale."""

    start: date
    amount: int


def threshold_on(thresholds: Sequence[RegistrationThreshold], on: date) -> int | None:
    """The threshold in force on ``on``, or ``None`` before the first entry (unknown)."""
    found: int | None = None
    for threshold in thresholds:  # sorted by start
        if threshold.start <= on:
            found = threshold.amount
    return found


def _amount(units: int, currency: str) -> str:
    return f"{currency} {from_minor_units(units, currency).amount:,}"


def unregistered_reason(
    request: TaxRequest, jurisdiction: str, default: int | None, currency: str
) -> str | None:
    """Why an unregistered seller may not simply charge nothing in ``jurisdiction``, or
    ``None`` when zero tax is the law (recorded sales at or under the threshold).

    ``default`` is the jurisdiction's threshold for this seller (minor units of ``currency``);
    the seller's :class:`~lms_billing.domain.tax.TaxRegistration` may override it.
    """
    registration = request.seller.registration(jurisdiction, request.transaction_date)
    threshold = default
    if registration is not None and registration.threshold is not None:
        threshold = registration.threshold
    sales = None if registration is None else registration.sales_to_date
    if threshold is None:
        return (
            f"registration_threshold_unknown: {jurisdiction} (no registration threshold known "
            f"on {request.transaction_date.isoformat()}; set TaxRegistration.threshold)"
        )
    if threshold == 0:
        if sales is not None and sales > 0:
            return f"registration_threshold_exceeded: {jurisdiction}"
        return (
            f"seller_not_registered: {jurisdiction} (no registration threshold applies to this "
            "seller: it must register before the first sale)"
        )
    if sales is None:
        return (
            f"registration_status_unknown: {jurisdiction} (not registered, and no sales_to_date "
            f"recorded against the {_amount(threshold, currency)} threshold)"
        )
    if sales > threshold:
        return f"registration_threshold_exceeded: {jurisdiction}"
    return None


def not_registered(
    engine: str,
    request: TaxRequest,
    jurisdiction: str,
    tax_type: str,
    threshold: int | None,
    currency: str,
) -> TaxResult:
    """Zero lines with reason ``not_registered`` when the seller's recorded sales are under
    the threshold (the legal outcome), otherwise a review saying why: never a silent zero."""
    reason = unregistered_reason(request, jurisdiction, threshold, currency)
    if reason is not None:
        return review(engine, (reason,))
    return finish(
        engine, request, uniform(request, jurisdiction, tax_type, ZERO, TaxReason.NOT_REGISTERED)
    )


def reverse_charge_without_id(
    jurisdiction: str,
    id_types: Iterable[str] = (),
    *,
    id_name: str = "tax id",
    tax_name: str = "tax",
) -> str:
    """The review reason for ``tax_exempt="reverse"`` on a customer without a tax id
    (``id_types``, when given, name the ids that would do)."""
    types = ", ".join(id_types)
    wanted = f"{id_name} ({types})" if types else id_name
    return (
        f"reverse_charge_without_vat_id: {jurisdiction} (tax_exempt='reverse' needs the buyer's "
        f"{wanted}; add it, or clear the flag to charge {tax_name})"
    )


__all__ = [
    "REVERSE_CHARGE_NOTE",
    "ZERO",
    "RegistrationThreshold",
    "find_tax_id",
    "finish",
    "not_registered",
    "reverse_charge_without_id",
    "review",
    "self_accounts",
    "threshold_on",
    "uniform",
    "unregistered_reason",
]
