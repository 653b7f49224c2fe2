"""Numbering series: formats, period keys, validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from lms_billing.domain.numbering import (
    CREDIT_NOTE_SERIES,
    INVOICE_SERIES,
    NumberingReset,
    NumberingSeries,
    format_number,
    next_sequence,
    period_key,
)
from lms_billing.errors import InvalidNumberingFormatError, ValidationError

AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def test_default_invoice_format() -> None:
    assert format_number(INVOICE_SERIES, 123, AT) == "INV-2026-000123"
    assert format_number(CREDIT_NOTE_SERIES, 7, AT) == "CN-2026-000007"


def test_period_keys_back_a_counter_row() -> None:
    assert period_key(INVOICE_SERIES, AT) == "2026"
    never = NumberingSeries(id="inv", format="{prefix}{seq:08d}", reset=NumberingReset.NEVER)
    assert period_key(never, AT) == "all"
    assert format_number(never, 42, AT) == "INV00000042"
    monthly = NumberingSeries(
        id="m", prefix="R", format="{prefix}/{year}/{month:02d}/{seq}", reset="monthly"
    )
    assert period_key(monthly, AT) == "2026-03"
    assert format_number(monthly, 5, AT) == "R/2026/03/5"


def test_series_time_zone_decides_the_year() -> None:
    new_year_tokyo = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)  # 01:00 on 1 Jan in Tokyo
    tokyo = NumberingSeries(id="jp", timezone="Asia/Tokyo")
    assert period_key(INVOICE_SERIES, new_year_tokyo) == "2026"
    assert period_key(tokyo, new_year_tokyo) == "2027"
    assert format_number(tokyo, 1, new_year_tokyo) == "INV-2027-000001"
    offset = datetime(2027, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=9)))
    assert period_key(INVOICE_SERIES, offset) == "2026"


def test_next_sequence() -> None:
    assert next_sequence(INVOICE_SERIES, None) == 1
    assert next_sequence(INVOICE_SERIES, 41) == 42
    with pytest.raises(ValidationError):
        next_sequence(INVOICE_SERIES, 0)


@pytest.mark.parametrize(
    ("fmt", "reset"),
    [
        ("{prefix}-{seq}-{customer}", "never"),  # unknown placeholder
        ("{prefix}-{year}", "yearly"),  # no sequence
        ("{prefix}-{seq:06d}", "yearly"),  # resets yearly without printing the year
        ("{prefix}-{year}-{seq:06d}", "monthly"),  # resets monthly without the month
        ("{prefix}-{seq:06q}", "never"),  # bad format spec
        ("{prefix}-{seq", "never"),  # unbalanced brace
        ("{}-{seq}", "never"),  # positional field
    ],
)
def test_bad_formats_are_refused(fmt: str, reset: str) -> None:
    with pytest.raises(InvalidNumberingFormatError):
        NumberingSeries(id="x", format=fmt, reset=reset)


def test_bad_sequence_time_or_zone() -> None:
    with pytest.raises(ValidationError):
        format_number(INVOICE_SERIES, 0, AT)
    with pytest.raises(ValidationError):
        format_number(INVOICE_SERIES, True, AT)
    with pytest.raises(ValidationError):
        format_number(INVOICE_SERIES, 1, datetime(2026, 1, 1))  # naive
    with pytest.raises(ValidationError):
        NumberingSeries(id="x", timezone="Mars/Olympus")
