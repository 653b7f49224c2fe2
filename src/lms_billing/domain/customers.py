"""Customers: who pays. A learner, or an organisation buying seats for its learners."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any

from babel.core import Locale, UnknownLocaleError
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from lms_billing.clock import ensure_aware
from lms_billing.errors import ValidationError
from lms_billing.money import CurrencyCode

# CLDR territories minus its two-letter groupings and pseudo-regions, which are not countries.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"})
_COUNTRIES: frozenset[str] = frozenset(
    str(code)
    for code in Locale("en").territories
    if len(str(code)) == 2 and str(code).isalpha() and str(code) not in _NOT_COUNTRIES
)


def country_code(value: object) -> str:
    """Validate an ISO 3166-1 alpha-2 country code (``"de"`` -> ``"DE"``)."""
    if not isinstance(value, str) or value.strip().upper() not in _COUNTRIES:
        raise ValidationError(f"Unknown ISO 3166 country code {value!r}.", country=str(value))
    return value.strip().upper()


def locale_tag(value: object) -> str:
    """Validate a babel locale identifier such as ``de_DE`` or ``pt-BR``."""
    if not isinstance(value, str):
        raise ValidationError("Locale must be a string.")
    return _parsed_locale(value)


@lru_cache(maxsize=1024)  # babel's parse is slow and every customer read validates its locale
def _parsed_locale(value: str) -> str:
    try:
        return str(Locale.parse(value.replace("-", "_")))
    except (UnknownLocaleError, ValueError) as exc:  # not cached: raised again next time
        raise ValidationError(f"Unknown locale {value!r}.", locale=value) from exc


def email_address(value: object) -> object:
    """A light shape check (one ``@``, a dot in the domain); delivery is the notifier's job."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError("Email must be a string.")
    local, at, domain = value.strip().rpartition("@")
    if not at or not local or "." not in domain.strip(".") or " " in value.strip():
        raise ValidationError(f"Not an email address: {value!r}.", email=value)
    return value.strip()


CountryCode = Annotated[str, BeforeValidator(country_code)]
EmailAddress = Annotated[str | None, BeforeValidator(email_address)]
AwareDatetime = Annotated[datetime, AfterValidator(lambda v: ensure_aware(v, name="created_at"))]
LocaleTag = Annotated[str, BeforeValidator(locale_tag)]


class CustomerKind(StrEnum):
    LEARNER = "learner"
    ORGANIZATION = "organization"


class TaxExempt(StrEnum):
    """Stripe's ``tax_exempt`` values: ``reverse`` means the buyer self-accounts for tax."""

    NONE = "none"
    EXEMPT = "exempt"
    REVERSE = "reverse"


class Address(BaseModel):
    model_config = ConfigDict(frozen=True)

    country: CountryCode
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    state: str | None = Field(default=None, description="State, province or region code.")
    postal_code: str | None = None


class TaxId(BaseModel):
    """A customer tax id, e.g. ``TaxId(type="eu_vat", value="DE123456789")``."""

    model_config = ConfigDict(frozen=True)

    type: str = Field(min_length=2, description="Stripe-style tax id type: eu_vat, gb_vat ...")
    value: str = Field(min_length=1)


def within(on: date, first: date | None, last: date | None) -> bool:
    """``first <= on <= last``, both days included; ``None`` leaves that side open (the
    validity windows of exemption certificates and tax registrations)."""
    return (first is None or first <= on) and (last is None or on <= last)


class ExemptionCertificate(BaseModel):
    """A tax exemption certificate held for a customer (e.g. a US resale certificate)."""

    model_config = ConfigDict(frozen=True)

    certificate_id: str = Field(min_length=1)
    jurisdiction: str = Field(min_length=2, description="'US-TX', 'CA', or '*' for all.")
    valid_from: date
    valid_until: date | None = None
    reason: str = "exempt"

    @field_validator("jurisdiction")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.strip().upper()

    def covers(self, jurisdiction: str, on: date) -> bool:
        """True when this certificate exempts ``jurisdiction`` (or its country) on ``on``."""
        if not within(on, self.valid_from, self.valid_until):
            return False
        wanted = jurisdiction.upper()
        return self.jurisdiction in ("*", wanted, wanted.split("-", 1)[0])


class CustomerProfile(BaseModel):
    """What the LMS User Service knows about a payer (returned by ``CustomerDirectory``)."""

    model_config = ConfigDict(frozen=True)

    external_id: str = Field(min_length=1, description="The LMS user or organisation id.")
    kind: CustomerKind = CustomerKind.LEARNER
    email: EmailAddress = None
    name: str | None = None
    address: Address | None = None
    locale: LocaleTag = "en_US"
    preferred_currency: CurrencyCode | None = None
    tax_ids: tuple[TaxId, ...] = ()
    tax_exempt: TaxExempt = TaxExempt.NONE
    exemption_certificates: tuple[ExemptionCertificate, ...] = ()


class Customer(CustomerProfile):
    """A billing customer: the profile plus billing state owned by lms-billing."""

    id: str = Field(min_length=1)
    created_at: AwareDatetime
    metadata: dict[str, Any] = Field(default_factory=dict)


__all__ = [
    "Address",
    "CountryCode",
    "Customer",
    "CustomerKind",
    "CustomerProfile",
    "EmailAddress",
    "ExemptionCertificate",
    "LocaleTag",
    "TaxExempt",
    "TaxId",
    "country_code",
    "locale_tag",
    "within",
]
