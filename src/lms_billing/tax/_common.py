"""Helpers shared by the built-in engines (private)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from lms_billing.domain.customers import TaxExempt, TaxId
from lms_billing.domain.tax import TaxCustomer, TaxReason, TaxRequest, TaxResult
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


def threshold_exceeded(request: TaxRequest, jurisdiction: str, default: int | None) -> bool:
    """An unregistered seller whose recorded sales passed the jurisdiction's threshold."""
    registration = request.seller.registration(jurisdiction)
    if registration is None or registration.sales_to_date is None:
        return False
    threshold = registration.threshold if registration.threshold is not None else default
    return threshold is not None and registration.sales_to_date > threshold


def not_registered(
    engine: str,
    request: TaxRequest,
    jurisdiction: str,
    tax_type: str,
    default: int | None,
    *,
    registration: str | None = None,
) -> TaxResult:
    """No tax because the seller is not registered, or a review if it should be.

    ``registration`` is the registration to look at when it differs from the jurisdiction
    (``"EU"`` for the One-Stop Shop).
    """
    where = registration or jurisdiction
    if threshold_exceeded(request, where, default):
        return review(engine, (f"registration_threshold_exceeded: {where}",))
    return finish(
        engine, request, uniform(request, jurisdiction, tax_type, ZERO, TaxReason.NOT_REGISTERED)
    )


__all__ = [
    "REVERSE_CHARGE_NOTE",
    "ZERO",
    "find_tax_id",
    "finish",
    "not_registered",
    "review",
    "self_accounts",
    "threshold_exceeded",
    "uniform",
]
