"""What an immediate cancellation settles: the unused time of what was billed, and the
proration items still pending. Pure math, no I/O.

The credit for unused time is computed on **what the customer was actually billed** for the
current period, never on the current items' prices: after an upgrade left as pending
prorations (``create_prorations``) the new price was never invoiced, so crediting it would
pay back money the customer never paid. The billed lines are the current period's invoice
lines (the renewal, ``always_invoice`` prorations), each with the net amount it charged
(after discounts, before tax)::

    unused(line) = round(line.amount * (line.end - at) / (line.end - line.start))   # seconds

The signed sum over all billed lines is the credit. Each invoice credits its own net unused
share (its credit lines count against it; an invoice whose share is negative lowers the
others' in proportion), spread over its positive lines (largest remainder), each part capped
by what that line can still be credited, so a caller issues one credit note per invoice.

Pending proration items are either invoiced on a final invoice now (``invoice_now``, Stripe's
name) or discarded. With ``prorate`` the final invoice bills each pending line only for the
time it was used (up to the cancellation); the rest was never billed, so it is not credited.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lms_billing.clock import ensure_aware
from lms_billing.domain.billing_cycle import BillingPeriod, UtcDatetime
from lms_billing.domain.proration import ProrationItem, prorate
from lms_billing.money import (
    DEFAULT_ROUNDING,
    MinorUnits,
    RoundingMode,
    SignedMinorUnits,
    allocate_minor,
)


class BilledLine(BaseModel):
    """One invoice line that billed (part of) the current period."""

    model_config = ConfigDict(frozen=True)

    invoice_id: str = Field(min_length=1)
    line_id: str = Field(min_length=1)
    amount: SignedMinorUnits = Field(description="Net of discounts, before tax.")
    period_start: UtcDatetime
    period_end: UtcDatetime
    creditable: MinorUnits | None = Field(
        default=None,
        description="What can still be credited on the line (earlier credit notes deducted); "
        "default: the positive part of ``amount``.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> BilledLine:
        BillingPeriod(start=self.period_start, end=self.period_end)  # end after start
        return self

    @property
    def room(self) -> int:
        return max(self.amount, 0) if self.creditable is None else self.creditable


class LineCredit(BaseModel):
    """Credit ``amount`` (net, before tax) on invoice ``invoice_id``'s line ``line_id``."""

    model_config = ConfigDict(frozen=True)

    invoice_id: str
    line_id: str
    amount: MinorUnits


def unused_share(line: BilledLine, at: datetime, rounding: RoundingMode = DEFAULT_ROUNDING) -> int:
    """The part of ``line.amount`` for its time after ``at`` (signed, to the second)."""
    moment = ensure_aware(at, name="at")
    if moment >= line.period_end:
        return 0
    period = BillingPeriod(start=line.period_start, end=line.period_end)
    return prorate(line.amount, period, max(moment, line.period_start), rounding)


def unused_time_credits(
    billed: Sequence[BilledLine], at: datetime, rounding: RoundingMode = DEFAULT_ROUNDING
) -> tuple[LineCredit, ...]:
    """The credit for the time after ``at`` of what ``billed`` charged, as parts per
    invoice line (``()`` when nothing positive is left unused).

    Each invoice's net unused share (its credit lines count against it) is what it credits;
    invoices whose share is negative reduce the total, which is split over the others in
    proportion, then inside each invoice over its positive lines (largest remainder,
    each part capped by what the line can still be credited).
    """
    by_invoice: dict[str, list[tuple[BilledLine, int]]] = {}
    for line in billed:
        by_invoice.setdefault(line.invoice_id, []).append((line, unused_share(line, at, rounding)))
    total = sum(share for lines in by_invoice.values() for _, share in lines)
    targets: list[tuple[list[tuple[BilledLine, int]], int]] = []
    for lines in by_invoice.values():
        weights = [(line, min(share, line.room)) for line, share in lines if share > 0]
        net = sum(share for _, share in lines)
        capacity = min(net, sum(weight for _, weight in weights))
        if capacity > 0:
            targets.append((weights, capacity))
    total = min(total, sum(capacity for _, capacity in targets))
    if total <= 0:
        return ()
    credits: list[LineCredit] = []
    shares = allocate_minor(total, [capacity for _, capacity in targets])
    for (weights, _), share in zip(targets, shares, strict=True):
        parts = allocate_minor(share, [weight for _, weight in weights])
        credits.extend(
            LineCredit(invoice_id=line.invoice_id, line_id=line.line_id, amount=part)
            for (line, _), part in zip(weights, parts, strict=True)
            if part > 0
        )
    return tuple(credits)


def used_part(
    item: ProrationItem, at: datetime, rounding: RoundingMode = DEFAULT_ROUNDING
) -> ProrationItem | None:
    """``item`` billed only up to ``at`` (``None`` when none of it was used)."""
    moment = ensure_aware(at, name="at")
    if moment >= item.period_end:
        return item
    if moment <= item.period_start:
        return None
    period = BillingPeriod(start=item.period_start, end=item.period_end)
    amount = item.amount - prorate(item.amount, period, moment, rounding)
    if amount == 0:
        return None
    return item.model_copy(
        update={
            "amount": amount,
            "period_end": moment,
            "description": f"{item.description} until {moment:%d %b %Y}",
        }
    )


class PendingSettlement(BaseModel):
    """What happens to a canceled subscription's pending proration items."""

    model_config = ConfigDict(frozen=True)

    invoice: tuple[ProrationItem, ...] = Field(description="Lines for the final invoice.")
    discarded: tuple[ProrationItem, ...] = Field(description="Dropped, never billed.")


def settle_pending(
    pending: Sequence[ProrationItem],
    at: datetime,
    *,
    invoice_now: bool,
    prorate_unused: bool,
    rounding: RoundingMode = DEFAULT_ROUNDING,
) -> PendingSettlement:
    """Invoice ``pending`` now (only the used part when ``prorate_unused``) or discard it."""
    if not invoice_now:
        return PendingSettlement(invoice=(), discarded=tuple(pending))
    if not prorate_unused:
        return PendingSettlement(invoice=tuple(pending), discarded=())
    kept: list[ProrationItem] = []
    unused: list[ProrationItem] = []
    for item in pending:
        part = used_part(item, at, rounding)
        if part is None:
            unused.append(item)  # starts after the cancellation: nothing of it was used
        else:
            kept.append(part)
    return PendingSettlement(invoice=tuple(kept), discarded=tuple(unused))


__all__ = [
    "BilledLine",
    "LineCredit",
    "PendingSettlement",
    "settle_pending",
    "unused_share",
    "unused_time_credits",
    "used_part",
]
