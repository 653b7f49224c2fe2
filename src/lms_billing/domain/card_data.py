"""Keeping raw card numbers out: PCI DSS SAQ-A scope means a PAN never enters the library.

Anything that *looks like* a primary account number is rejected: 13 to 19 digits that pass
the Luhn check, written together or in groups separated by single spaces or dashes
(``4242 4242 4242 4242``, ``4242-4242-4242-4242``), anywhere inside a string, a metadata value
or a metadata key. Payment methods are referenced by gateway tokens only.

The rule is deliberately broad: about one random 13-19 digit number in ten is Luhn-valid, so an
opaque numeric reference of that length can be refused. Prefix such references with letters
(``order-...``) or keep them shorter; a false refusal is cheaper than storing card data.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from lms_billing.errors import CardDataRejectedError

_MIN_PAN = 13
_MAX_PAN = 19

# Digit groups joined by at most one space or dash. Runs are split into groups so that a PAN
# written in groups is found even when other digit groups stand next to it.
_DIGIT_RUN = re.compile(r"\d+(?:[ -]\d+)*")
_SEPARATOR = re.compile(r"[ -]")


def luhn_valid(digits: str) -> bool:
    """True when ``digits`` (only 0-9) passes the Luhn (mod 10) check."""
    if not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _looks_like_pan(digits: str) -> bool:
    return _MIN_PAN <= len(digits) <= _MAX_PAN and luhn_valid(digits)


def _candidates(text: str) -> Iterator[str]:
    for match in _DIGIT_RUN.finditer(text):
        groups = _SEPARATOR.split(match.group())
        if len(groups) == 1:
            yield groups[0]
            continue
        # Every window of whole consecutive groups: "ref 12 4242 4242 4242 4242" still has
        # the card number in it. Windows never split a group, so long plain numbers are not
        # scanned digit by digit (that would flag almost any long id).
        for start in range(len(groups)):
            joined = ""
            for group in groups[start:]:
                joined += group
                if len(joined) > _MAX_PAN:
                    break
                yield joined


def contains_card_number(text: str) -> bool:
    """True when ``text`` contains something that looks like a card number (PAN)."""
    return any(_looks_like_pan(candidate) for candidate in _candidates(text))


def reject_card_data(value: object, *, field: str = "value") -> None:
    """Raise :class:`CardDataRejectedError` if ``value`` holds anything that looks like a PAN.

    Strings are scanned; mappings (keys and values), lists, tuples and sets are walked
    recursively; other values (numbers included: an ``int`` card number is still one) are
    converted with ``str`` first when they are integers.

    :param field: the name reported in the error, e.g. ``"metadata.note"``. The offending
        value itself is never echoed back (it would leak the card number into logs).
    """
    if isinstance(value, str):
        if contains_card_number(value):
            raise CardDataRejectedError(field=field)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        reject_card_data(str(value), field=field)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            reject_card_data(key, field=f"{field} key")
            reject_card_data(item, field=f"{field}.{key}")
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            reject_card_data(item, field=f"{field}[{index}]")


__all__ = ["contains_card_number", "luhn_valid", "reject_card_data"]
