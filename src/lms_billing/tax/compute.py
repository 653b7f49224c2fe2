"""Tax arithmetic: turn per-line decisions (jurisdiction, type, rate) into rounded tax lines.

Engines decide *which* rate applies; this module does the money. Exact arithmetic uses
``Fraction``; the only rounding points are marked. Inclusive prices: ``tax = gross -
gross / (1 + rate)``. Per-invoice rounding: the exact tax of every line in a rate group is
summed, the group total is rounded once, and :func:`~lms_billing.money.allocate_minor` hands
it back to the lines (largest remainder) so the lines always sum to the rounded group total.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from lms_billing.domain.tax import TaxLine, TaxLineItem, TaxRounding
from lms_billing.errors import ValidationError
from lms_billing.money import DECIMAL_CONTEXT, RoundingMode, allocate_minor, round_minor


@dataclass(frozen=True, slots=True)
class TaxDecision:
    """How one item is taxed by one tax in one jurisdiction, before any amount is computed.

    ``taxable_portion`` is the share of the price the tax applies to (Texas taxes 80 % of
    data processing services); ``rate`` is the statutory rate.
    """

    line_id: str
    jurisdiction: str
    tax_type: str
    rate: Decimal
    reason: str
    reverse_charge: bool = False
    taxable_portion: Decimal = Decimal(1)


def round_fraction(value: Fraction, mode: RoundingMode) -> int:
    """Round an exact fraction of minor units to a whole one with ``mode``."""
    # 34 significant digits: the decimal is exact for any realistic amount, so ties stay ties.
    as_decimal = DECIMAL_CONTEXT.divide(Decimal(value.numerator), Decimal(value.denominator))
    return round_minor(as_decimal, mode)


@dataclass(slots=True)
class _Part:
    item: TaxLineItem
    decision: TaxDecision
    exact_tax: Fraction
    tax: int = 0


def _exact_parts(item: TaxLineItem, decisions: Sequence[TaxDecision]) -> list[_Part]:
    effective = [Fraction(d.rate) * Fraction(d.taxable_portion) for d in decisions]
    gross = Fraction(item.amount)
    # Inclusive: gross = net * (1 + R), R the sum of the stacked effective rates on the line.
    inclusive = item.tax_behavior == "inclusive"
    net = gross / (1 + sum(effective, Fraction(0))) if inclusive else gross
    return [
        _Part(item, decision, net * rate)
        for decision, rate in zip(decisions, effective, strict=True)
    ]


def _round_per_line(parts: list[_Part], item: TaxLineItem, mode: RoundingMode) -> None:
    if item.tax_behavior == "inclusive" and len(parts) > 1:
        # Round the line's total tax once (rounding point), then split it across the stacked
        # taxes so that net + taxes == gross exactly.
        total = round_fraction(sum((p.exact_tax for p in parts), Fraction(0)), mode)
        for part, share in zip(
            parts, allocate_minor(total, [p.exact_tax for p in parts]), strict=True
        ):
            part.tax = share
        return
    for part in parts:
        part.tax = round_fraction(part.exact_tax, mode)  # rounding point: per line


def _round_per_invoice(parts: Iterable[_Part], mode: RoundingMode) -> None:
    groups: dict[tuple[str, str, Decimal, Decimal, str, bool], list[_Part]] = {}
    for part in parts:
        d = part.decision
        key = (d.jurisdiction, d.tax_type, d.rate, d.taxable_portion, part.item.tax_behavior,
               d.reverse_charge)  # fmt: skip
        groups.setdefault(key, []).append(part)
    for members in groups.values():
        exact = [m.exact_tax for m in members]
        total = round_fraction(sum(exact, Fraction(0)), mode)  # rounding point: per group
        for member, share in zip(members, allocate_minor(total, exact), strict=True):
            member.tax = share


def compute_tax_lines(
    items: Sequence[TaxLineItem],
    decisions: Sequence[TaxDecision],
    *,
    rounding: TaxRounding = TaxRounding.PER_LINE,
    mode: RoundingMode = RoundingMode.HALF_UP,
) -> tuple[TaxLine, ...]:
    """Compute rounded :class:`TaxLine` s for ``items`` from the engines' ``decisions``.

    Every item gets one line per decision naming it, in item order. Items without a decision
    get no line.

    :raises ValidationError: a decision names an unknown line id.
    """
    by_item: dict[str, list[TaxDecision]] = {item.line_id: [] for item in items}
    for decision in decisions:
        if decision.line_id not in by_item:
            raise ValidationError(
                f"Tax decision for unknown line {decision.line_id!r}.", line_id=decision.line_id
            )
        by_item[decision.line_id].append(decision)

    per_item = [(item, _exact_parts(item, by_item[item.line_id])) for item in items]
    if rounding == TaxRounding.PER_INVOICE:
        _round_per_invoice((p for _, parts in per_item for p in parts), mode)
    else:
        for item, parts in per_item:
            _round_per_line(parts, item, mode)

    lines: list[TaxLine] = []
    for item, parts in per_item:
        inclusive = item.tax_behavior == "inclusive"
        net = item.amount - sum(p.tax for p in parts) if inclusive else item.amount
        for part in parts:
            d = part.decision
            # Rounding point: a partly taxable basis (Texas 80 %) is rounded half-up.
            taxable = round_fraction(Fraction(net) * Fraction(d.taxable_portion), mode)
            lines.append(
                TaxLine(
                    line_id=item.line_id,
                    jurisdiction=d.jurisdiction,
                    tax_type=d.tax_type,
                    rate=d.rate,
                    taxable_amount=taxable,
                    tax_amount=part.tax,
                    reverse_charge=d.reverse_charge,
                    reason=d.reason,
                    inclusive=inclusive,
                )
            )
    return tuple(lines)


__all__ = ["TaxDecision", "compute_tax_lines", "round_fraction"]
