"""Document numbering: series, period keys and formatting, with no storage in sight.

A :class:`NumberingSeries` says how numbers look (``INV-2026-000123``) and when the sequence
starts again (``yearly`` or ``never``). Gap-free allocation is the storage layer's job: it keeps
one counter row per ``(series.id, period_key(series, issued_at))`` and increments it inside the
transaction that finalizes the document, so a rolled-back finalization returns its number.
The pure functions here turn that counter value into the printed number.
"""

from __future__ import annotations

import string
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lms_billing.clock import ensure_aware
from lms_billing.errors import InvalidNumberingFormatError, ValidationError

# Placeholders a format may use; anything else is a typo we refuse up front.
_FIELDS = frozenset({"prefix", "year", "month", "seq"})


class NumberingReset(StrEnum):
    """When the sequence restarts at ``start``."""

    NEVER = "never"
    YEARLY = "yearly"
    MONTHLY = "monthly"


class NumberingSeries(BaseModel):
    """One numbering series, e.g. invoices ``INV-2026-000001`` or credit notes ``CN-...``.

    ``format`` is a :meth:`str.format` template over ``prefix``, ``year``, ``month`` and
    ``seq``. A series that resets yearly must print the year (and monthly ones the month
    too), otherwise two documents would share a number.
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, description="Counter key, e.g. 'invoice' or 'credit_note'.")
    prefix: str = "INV"
    format: str = "{prefix}-{year}-{seq:06d}"
    reset: NumberingReset = NumberingReset.YEARLY
    start: int = Field(default=1, ge=0)
    timezone: str = Field(default="UTC", description="Zone that decides the year/month.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError(f"Unknown time zone {value!r}.", timezone=value) from exc
        return value

    @model_validator(mode="after")
    def _check_format(self) -> NumberingSeries:
        try:
            names = {
                name.split(".")[0].split("[")[0]
                for _, name, _, _ in string.Formatter().parse(self.format)
                if name is not None
            }
        except ValueError as exc:
            raise InvalidNumberingFormatError(
                f"Cannot parse numbering format {self.format!r}.", format=self.format
            ) from exc
        unknown = names - _FIELDS
        if unknown or "" in names:
            raise InvalidNumberingFormatError(
                f"Unknown placeholders {sorted(unknown)} in {self.format!r}; "
                f"use {sorted(_FIELDS)}.",
                format=self.format,
            )
        if "seq" not in names:
            raise InvalidNumberingFormatError("The format must contain {seq}.", format=self.format)
        required = {
            NumberingReset.NEVER: set(),
            NumberingReset.YEARLY: {"year"},
            NumberingReset.MONTHLY: {"year", "month"},
        }[self.reset]
        if not required <= names:
            raise InvalidNumberingFormatError(
                f"A series that resets {self.reset.value} must print {sorted(required)}, "
                "or numbers would repeat.",
                format=self.format,
            )
        try:  # a trial run catches bad format specs such as {seq:06q}
            self.format.format(prefix=self.prefix, year=2026, month=1, seq=self.start)
        except (ValueError, KeyError, IndexError) as exc:
            raise InvalidNumberingFormatError(
                f"Numbering format {self.format!r} cannot be applied: {exc}.", format=self.format
            ) from exc
        return self


def _local(series: NumberingSeries, issued_at: datetime) -> datetime:
    return ensure_aware(issued_at, name="issued_at").astimezone(ZoneInfo(series.timezone))


def period_key(series: NumberingSeries, issued_at: datetime) -> str:
    """The counter period a document issued at ``issued_at`` draws from.

    ``"all"`` for series that never reset, ``"2026"`` for yearly, ``"2026-03"`` for monthly.
    Storage keys its counter row by ``(series.id, period_key)``.
    """
    local = _local(series, issued_at)
    if series.reset is NumberingReset.YEARLY:
        return f"{local.year:04d}"
    if series.reset is NumberingReset.MONTHLY:
        return f"{local.year:04d}-{local.month:02d}"
    return "all"


def next_sequence(series: NumberingSeries, last: int | None) -> int:
    """The sequence after ``last`` (``None`` when the period has no document yet)."""
    if last is None:
        return series.start
    if isinstance(last, bool) or not isinstance(last, int) or last < series.start:
        raise ValidationError(f"Counter value {last!r} is below the series start.", last=last)
    return last + 1


def format_number(series: NumberingSeries, sequence: int, issued_at: datetime) -> str:
    """Print a document number: ``format_number(INVOICE_SERIES, 123, t) == "INV-2026-000123"``.

    :raises ValidationError: for a sequence below the series start or a naive datetime.
    """
    if isinstance(sequence, bool) or not isinstance(sequence, int) or sequence < series.start:
        raise ValidationError(
            f"Sequence must be an integer >= {series.start}, got {sequence!r}.",
            sequence=repr(sequence),
        )
    local = _local(series, issued_at)
    return series.format.format(
        prefix=series.prefix, year=local.year, month=local.month, seq=sequence
    )


INVOICE_SERIES = NumberingSeries(id="invoice", prefix="INV")
"""Default invoice series: ``INV-2026-000001``, restarting every calendar year (UTC)."""

CREDIT_NOTE_SERIES = NumberingSeries(id="credit_note", prefix="CN")
"""Default credit note series: ``CN-2026-000001``."""

RECEIPT_SERIES = NumberingSeries(id="receipt", prefix="RCT")
"""Default receipt series: ``RCT-2026-000001``."""


__all__ = [
    "CREDIT_NOTE_SERIES",
    "INVOICE_SERIES",
    "RECEIPT_SERIES",
    "NumberingReset",
    "NumberingSeries",
    "format_number",
    "next_sequence",
    "period_key",
]
