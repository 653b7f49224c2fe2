"""Tax: what a tax engine is asked (:class:`TaxRequest`) and what it answers (:class:`TaxResult`).

Pure data. Engines live in :mod:`lms_billing.tax`; they take a request and return one or more
:class:`TaxLine` per :class:`TaxLineItem` (Canada and the US may stack several taxes on one
line). Amounts are integer minor units of ``TaxRequest.currency``; rates are ``Decimal``
fractions (``Decimal("0.19")`` is 19 %).
"""

from __future__ import annotations

import ipaddress
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from lms_billing.domain.customers import (
    CustomerProfile,
    ExemptionCertificate,
    TaxExempt,
    TaxId,
    country_code,
    within,
)
from lms_billing.errors import InvalidAmountError, UnknownJurisdictionError, ValidationError
from lms_billing.money import DEFAULT_ROUNDING, CurrencyCode, MinorUnits, RoundingMode

# EU member states (ISO 3166-1 alpha-2; Greece is "GR" here, "EL" in VAT ids).
EU_MEMBER_STATES: frozenset[str] = frozenset(
    {
        "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
        "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
    }
)  # fmt: skip


# CLDR territory codes that are not countries: unknown region, EU, eurozone, UN, outlying
# Oceania, pseudo-locales. A tax jurisdiction must be a real country (XK Kosovo is kept).
_NOT_COUNTRIES = frozenset({"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"})


def tax_country(value: object) -> str:
    """Validate an ISO 3166-1 alpha-2 code for tax purposes (``"de"`` -> ``"DE"``).

    :raises UnknownJurisdictionError: for anything that is not a known country code.
    """
    try:
        code = country_code(value)
    except ValidationError as exc:
        raise UnknownJurisdictionError(
            f"Unknown ISO 3166 country code {value!r}.", country=str(value)
        ) from exc
    if code in _NOT_COUNTRIES:
        raise UnknownJurisdictionError(f"{code} is not a country.", country=code)
    return code


def _optional_country(value: object) -> str | None:
    return None if value is None else tax_country(value)


def _tax_behavior(value: object) -> object:
    # Accepts domain.catalog.TaxBehavior members (a StrEnum) as well as plain strings;
    # "unspecified" must be resolved by the caller (seller default) before tax is computed.
    if isinstance(value, str) and str(value) in ("inclusive", "exclusive"):
        return str(value)
    raise ValidationError(
        f"tax_behavior must be 'inclusive' or 'exclusive', got {value!r}; resolve "
        "'unspecified' with the seller's default before computing tax.",
        tax_behavior=str(value),
    )


TaxCountry = Annotated[str, BeforeValidator(tax_country)]
OptionalTaxCountry = Annotated[str | None, BeforeValidator(_optional_country)]
TaxBehaviorValue = Annotated[Literal["inclusive", "exclusive"], BeforeValidator(_tax_behavior)]


def _rate(value: object) -> object:
    if isinstance(value, float | bool):
        raise InvalidAmountError("Tax rates must be Decimal or str, never float.")
    return value


TaxRate = Annotated[Decimal, BeforeValidator(_rate)]


class TaxRounding(StrEnum):
    """Where tax is rounded to minor units."""

    PER_LINE = "per_line"  # each line's tax is rounded on its own
    PER_INVOICE = "per_invoice"  # unrounded per rate group, rounded once, allocated back


class TaxReason(StrEnum):
    """Machine reason codes on :class:`TaxLine`: how the rate was chosen.

    A B2B sale in the seller's own country is ``standard_rated`` or ``reduced_rated`` like any
    other taxed sale (the buyer's VAT id is on the invoice); review reasons are separate
    strings (``TaxResult.review_reasons``).
    """

    STANDARD_RATED = "standard_rated"
    REDUCED_RATED = "reduced_rated"
    REVERSE_CHARGE = "reverse_charge"
    EXEMPT = "exempt"
    NOT_REGISTERED = "not_registered"
    NO_NEXUS = "no_nexus"
    NOT_TAXABLE = "not_taxable"
    OUTSIDE_SCOPE = "outside_scope"
    HOME_COUNTRY_THRESHOLD = "home_country_threshold"
    EXTERNAL = "external"  # computed by an external service (Stripe Tax)
    ZERO_ENGINE = "zero_engine"


class TaxRegistration(BaseModel):
    """The seller's status in one jurisdiction: ``"GB"``, ``"NO"``, ``"US-CA"``, ``"CA-QC"``,
    or ``"EU"`` for the One-Stop Shop (covers B2C sales to every member state).

    ``threshold`` and ``sales_to_date`` (minor units of the jurisdiction's threshold currency)
    let an engine flag an unregistered seller who has crossed a registration threshold.

    ``valid_from`` and ``valid_until`` (both days included; ``None``: open-ended) date the
    registration, so a sale is taxed, and reported, under the registration in force on its
    own date: a seller who joined OSS on 1 April files its March sales locally. A seller
    that deregistered and registered again records one entry per spell.
    """

    model_config = ConfigDict(frozen=True)

    jurisdiction: str = Field(min_length=2)
    registered: bool = True
    tax_id: str | None = None
    threshold: MinorUnits | None = None
    sales_to_date: MinorUnits | None = None
    valid_from: date | None = None
    valid_until: date | None = None

    @field_validator("jurisdiction")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.strip().upper()

    @model_validator(mode="after")
    def _dated_in_order(self) -> TaxRegistration:
        if (
            self.valid_from is not None
            and self.valid_until is not None
            and self.valid_until < self.valid_from
        ):
            raise ValidationError(
                "A registration's valid_until cannot be before its valid_from.",
                jurisdiction=self.jurisdiction,
                valid_from=self.valid_from.isoformat(),
                valid_until=self.valid_until.isoformat(),
            )
        return self

    def covers(self, on: date | None) -> bool:
        """True when this entry applies on ``on`` (``None``: regardless of its dates)."""
        return on is None or within(on, self.valid_from, self.valid_until)


class SellerTaxProfile(BaseModel):
    """Who sells: where they are established and where they are registered.

    EU threshold (Art. 59c VAT Directive): a seller established in one member state whose
    cross-border B2C sales of electronic services were at most EUR 10,000 in the previous year
    and so far this year (including the sale being taxed) charges its home-country VAT; that is
    the law's default. Pass both figures (EUR cents) to apply it. A seller that opted for
    destination taxation (Art. 59c(3), binding for two calendar years) sets
    ``eu_home_country_threshold=False``. When either figure is missing or above
    ``eu_threshold`` the destination rule applies (and needs an OSS or local registration).
    """

    model_config = ConfigDict(frozen=True)

    country: TaxCountry
    region: str | None = None
    vat_id: str | None = None
    registrations: tuple[TaxRegistration, ...] = ()
    tax_rounding: TaxRounding = TaxRounding.PER_LINE
    rounding_mode: RoundingMode = DEFAULT_ROUNDING
    eu_home_country_threshold: bool = True  # False: opted for destination VAT (Art. 59c(3))
    eu_threshold: MinorUnits = 1_000_000  # EUR 10,000.00 (Art. 59c VAT Directive)
    eu_cross_border_sales_previous_year: MinorUnits | None = None
    eu_cross_border_sales_current_year: MinorUnits | None = None

    def registration(self, jurisdiction: str, on: date | None = None) -> TaxRegistration | None:
        """The entry recorded for ``jurisdiction`` that applies on ``on``, or ``None``.

        On a day outside every dated entry the seller was not registered there: the result
        is then the entry for that jurisdiction as not ``registered``, so its ``threshold``
        and ``sales_to_date`` still count (``None`` when none was recorded at all)."""
        wanted = jurisdiction.upper()
        entries = [r for r in self.registrations if r.jurisdiction == wanted]
        covering = [r for r in entries if r.covers(on)]
        for registration in covering:  # a registered spell wins over a threshold record
            if registration.registered:
                return registration
        if covering:
            return covering[0]
        if not entries:
            return None
        return entries[0].model_copy(update={"registered": False})

    def is_registered(self, jurisdiction: str, on: date | None = None) -> bool:
        """True when a registration for ``jurisdiction`` is active on ``on`` (``None``:
        whatever the entries' dates; engines pass the transaction date)."""
        registration = self.registration(jurisdiction, on)
        return registration is not None and registration.registered


class TaxCustomer(BaseModel):
    """The buyer as tax engines see it."""

    model_config = ConfigDict(frozen=True)

    country: TaxCountry
    region: str | None = Field(default=None, description="State or province code: 'CA', 'QC'.")
    postal_code: str | None = None
    tax_ids: tuple[TaxId, ...] = ()
    tax_exempt: TaxExempt = TaxExempt.NONE
    exemption_certificates: tuple[ExemptionCertificate, ...] = ()

    @field_validator("region")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return None if value is None else value.strip().upper()

    @classmethod
    def from_profile(
        cls,
        profile: CustomerProfile,
        *,
        exemption_certificates: tuple[ExemptionCertificate, ...] | None = None,
    ) -> TaxCustomer:
        """Build from a customer profile; the profile must have an address with a country.

        Certificates default to those recorded on the profile.
        """
        if profile.address is None:
            raise UnknownJurisdictionError(
                "The customer has no address, so no tax jurisdiction.",
                customer=profile.external_id,
            )
        return cls(
            country=profile.address.country,
            region=profile.address.state,
            postal_code=profile.address.postal_code,
            tax_ids=profile.tax_ids,
            tax_exempt=profile.tax_exempt,
            exemption_certificates=(
                profile.exemption_certificates
                if exemption_certificates is None
                else exemption_certificates
            ),
        )

    def is_exempt(self, jurisdiction: str, on: date) -> bool:
        """Exempt by status or by a certificate valid for ``jurisdiction`` on ``on``."""
        if self.tax_exempt == TaxExempt.EXEMPT:
            return True
        return any(c.covers(jurisdiction, on) for c in self.exemption_certificates)


class LocationEvidence(BaseModel):
    """Where the buyer is, by independent pieces of evidence (EU rules want two that agree).

    ``ip_address`` is the address ``ip_country`` was derived from; it is not a piece of
    evidence on its own, but external engines (Stripe Tax) can locate the buyer with it.
    """

    model_config = ConfigDict(frozen=True)

    billing_country: OptionalTaxCountry = None
    ip_country: OptionalTaxCountry = None
    card_country: OptionalTaxCountry = None
    ip_address: str | None = None

    @field_validator("ip_address")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError as exc:
            raise ValidationError(
                f"{value!r} is not an IPv4 or IPv6 address.", ip_address=value
            ) from exc

    def pieces(self) -> dict[str, str]:
        """The recorded pieces by name, e.g. ``{"billing_country": "DE"}``."""
        found = {
            "billing_country": self.billing_country,
            "ip_country": self.ip_country,
            "card_country": self.card_country,
        }
        return {name: value for name, value in found.items() if value is not None}


class TaxLineItem(BaseModel):
    """One line to tax. ``amount`` is after discounts; for inclusive prices it is the gross."""

    model_config = ConfigDict(frozen=True)

    line_id: str = Field(min_length=1)
    amount: MinorUnits
    quantity: int = Field(default=1, ge=0)
    tax_code: str | None = None
    tax_behavior: TaxBehaviorValue = "exclusive"


class TaxRequest(BaseModel):
    """Everything an engine needs to tax a draft invoice."""

    model_config = ConfigDict(frozen=True)

    seller: SellerTaxProfile
    customer: TaxCustomer
    currency: CurrencyCode
    items: tuple[TaxLineItem, ...]
    transaction_date: date
    evidence: LocationEvidence | None = None

    @model_validator(mode="after")
    def _unique_line_ids(self) -> TaxRequest:
        ids = [item.line_id for item in self.items]
        if len(ids) != len(set(ids)):
            raise ValidationError("Tax line ids must be unique within a request.")
        return self


class TaxLine(BaseModel):
    """Tax on one line in one jurisdiction.

    ``taxable_amount`` is the net amount (for inclusive lines: gross minus tax).
    A reverse-charged line has ``tax_amount == 0`` and ``reverse_charge=True``.
    """

    model_config = ConfigDict(frozen=True)

    line_id: str
    jurisdiction: str
    tax_type: str
    rate: TaxRate
    taxable_amount: MinorUnits
    tax_amount: MinorUnits
    reverse_charge: bool = False
    reason: str
    inclusive: bool = False


class VatIdCheck(BaseModel):
    """A VAT id verification (a VIES answer), kept as audit evidence: who was checked, when,
    by whom (``requester``) and the consultation number VIES gives to a qualified query."""

    model_config = ConfigDict(frozen=True)

    vat_id: str
    valid: bool
    checked_on: date | None = None
    name: str | None = None
    address: str | None = None
    request_identifier: str | None = None
    requester: str | None = None
    source: str = "vies"


class TaxResult(BaseModel):
    """An engine's answer. ``needs_review`` means: do not finalize without a person.

    ``vat_id_checks`` are the verifications the decision relied on (keep them with the
    invoice: the VIES consultation number proves the buyer's VAT id was checked).
    """

    model_config = ConfigDict(frozen=True)

    engine: str
    lines: tuple[TaxLine, ...] = ()
    notes: tuple[str, ...] = ()
    needs_review: bool = False
    review_reasons: tuple[str, ...] = ()
    vat_id_checks: tuple[VatIdCheck, ...] = ()

    @property
    def total_tax(self) -> int:
        """Tax charged to the buyer, in minor units (reverse-charged lines add nothing)."""
        return sum(line.tax_amount for line in self.lines)

    def lines_for(self, line_id: str) -> tuple[TaxLine, ...]:
        """The tax lines computed for one item."""
        return tuple(line for line in self.lines if line.line_id == line_id)


__all__ = [
    "EU_MEMBER_STATES",
    "ExemptionCertificate",
    "LocationEvidence",
    "OptionalTaxCountry",
    "SellerTaxProfile",
    "TaxBehaviorValue",
    "TaxCountry",
    "TaxCustomer",
    "TaxLine",
    "TaxLineItem",
    "TaxReason",
    "TaxRegistration",
    "TaxRequest",
    "TaxResult",
    "TaxRounding",
    "VatIdCheck",
    "tax_country",
]
