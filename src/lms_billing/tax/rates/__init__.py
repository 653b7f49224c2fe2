"""Effective-dated tax rate tables, kept as plain Python data with their sources.

A table maps a jurisdiction to :class:`RatePeriod` s sorted by ``start``; a period applies from
its ``start`` (inclusive) until the next period's start. A date before the first period is
outside the table's coverage and raises :class:`~lms_billing.errors.TaxRateUnavailableError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from lms_billing.errors import TaxRateUnavailableError, UnknownJurisdictionError


@dataclass(frozen=True, slots=True)
class RatePeriod:
    """Rates in force from ``start``: a standard rate and the reduced rates (fractions)."""

    start: date
    standard: Decimal
    reduced: tuple[Decimal, ...] = field(default=())


RateTable = Mapping[str, Sequence[RatePeriod]]


def rate_period(table: RateTable, jurisdiction: str, on: date) -> RatePeriod:
    """The period of ``table`` in force for ``jurisdiction`` on ``on``.

    :raises UnknownJurisdictionError: the table has no such jurisdiction.
    :raises TaxRateUnavailableError: ``on`` is before the table's coverage.
    """
    periods = table.get(jurisdiction)
    if not periods:
        raise UnknownJurisdictionError(
            f"No tax rates for jurisdiction {jurisdiction!r}.", jurisdiction=jurisdiction
        )
    found: RatePeriod | None = None
    for period in periods:  # sorted by start; a handful of entries each
        if period.start <= on:
            found = period
        else:
            break
    if found is None:
        raise TaxRateUnavailableError(
            f"Tax rates for {jurisdiction} start on {periods[0].start.isoformat()}; "
            f"{on.isoformat()} is before that.",
            jurisdiction=jurisdiction,
            date=on.isoformat(),
            coverage_start=periods[0].start.isoformat(),
        )
    return found


def pct(value: str) -> Decimal:
    """``pct("25.5") == Decimal("0.255")``: tables are written in percent for readability."""
    return Decimal(value).scaleb(-2)


__all__ = ["RatePeriod", "RateTable", "pct", "rate_period"]
