"""Formatting bound to one reader: locale, currency, time zone and labels (private).

Every amount, date, number and percentage a document prints goes through :class:`Formatter`,
so each is formatted in exactly one place: amounts with :func:`lms_billing.money.format_money`,
dates and percentages with babel.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.core import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_decimal, format_percent

from lms_billing.errors import ValidationError
from lms_billing.money import format_money, from_minor_units
from lms_billing.rendering.labels import labels_for


class Formatter:
    """Formatting helpers and labels bound to one locale, currency and time zone."""

    def __init__(
        self, locale: str, currency: str, timezone: str, labels: Mapping[str, str] | None
    ) -> None:
        try:
            self.locale = Locale.parse(locale.replace("-", "_"))
        except (UnknownLocaleError, ValueError, TypeError) as exc:
            raise ValidationError(f"Unknown locale {locale!r}.", locale=locale) from exc
        try:
            self.zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError(f"Unknown time zone {timezone!r}.", timezone=timezone) from exc
        self.tag = str(self.locale)
        self.currency = currency
        # The locale's labels with the host's overrides on top.
        self.labels = labels_for(self.tag, labels)

    def money(self, minor: int) -> str:
        return format_money(from_minor_units(minor, self.currency, allow_negative=True), self.tag)

    def date(self, moment: datetime) -> str:
        return str(format_date(moment.astimezone(self.zone).date(), "long", locale=self.locale))

    def number(self, value: int) -> str:
        return str(format_decimal(value, locale=self.locale))

    def percent(self, rate: Decimal) -> str:
        # The locale's pattern ("19 %" in German) without rounding 7.5 % to 8 %.
        return str(format_percent(rate, locale=self.locale, decimal_quantization=False))

    def country(self, code: str) -> str:
        return str(self.locale.territories.get(code, code))


__all__ = ["Formatter"]
