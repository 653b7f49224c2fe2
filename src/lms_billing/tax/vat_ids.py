"""VAT / tax id checks: offline format and check digits (python-stdnum), live VIES lookups.

:func:`parse_eu_vat_id` only proves an EU VAT id is well formed. Whether it is *registered*
is a question for VIES, the Commission's VAT Information Exchange System; engines take any
:class:`VatIdValidator`, so tests and offline hosts can plug in a fake, and production can use
:class:`lms_billing.tax.vies.ViesRestValidator` (the VIES REST API over ``requests``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

from stdnum import exceptions as stdnum_errors
from stdnum.au import abn as au_abn
from stdnum.ca import bn as ca_bn
from stdnum.ch import vat as ch_vat
from stdnum.eu import vat as eu_vat
from stdnum.gb import vat as gb_vat
from stdnum.jp import cn as jp_cn
from stdnum.no import mva as no_mva

from lms_billing.domain.tax import EU_MEMBER_STATES, VatIdCheck
from lms_billing.errors import InvalidTaxIdError

# VAT id prefixes that differ from ISO 3166: Greece is "EL"; "XI" is Northern Ireland (goods).
_PREFIX_TO_COUNTRY = {"EL": "GR", "XI": "GB"}


@dataclass(frozen=True, slots=True)
class EuVatId:
    """A well-formed EU VAT id: ``prefix`` as printed ("EL"), ``country`` as ISO ("GR")."""

    prefix: str
    number: str

    @property
    def country(self) -> str:
        return _PREFIX_TO_COUNTRY.get(self.prefix, self.prefix)

    @property
    def compact(self) -> str:
        return f"{self.prefix}{self.number}"


def parse_eu_vat_id(value: str) -> EuVatId:
    """Normalize and check an EU VAT id (format and check digits, offline).

    :raises InvalidTaxIdError: malformed, wrong length, unknown prefix or bad check digits.
    """
    try:
        compact = str(eu_vat.validate(value))
    except stdnum_errors.ValidationError as exc:
        raise InvalidTaxIdError(f"{value!r} is not a valid EU VAT id: {exc}", tax_id=value) from exc
    prefix, number = compact[:2], compact[2:]
    if _PREFIX_TO_COUNTRY.get(prefix, prefix) not in EU_MEMBER_STATES:
        raise InvalidTaxIdError(f"{value!r} is not an EU member-state VAT id.", tax_id=value)
    return EuVatId(prefix, number)


_NATIONAL: dict[str, ModuleType] = {
    "au_abn": au_abn,
    "ca_bn": ca_bn,
    "ca_gst_hst": ca_bn,
    "ch_vat": ch_vat,
    "gb_vat": gb_vat,
    "jp_cn": jp_cn,
    "no_vat": no_mva,
}


def validate_tax_id(tax_id_type: str, value: str) -> str:
    """Check a Stripe-style typed tax id (``eu_vat``, ``gb_vat``, ``au_abn`` ...) offline.

    Returns the compact form. Types without a checker are returned stripped, unchecked.

    :raises InvalidTaxIdError: the value fails its format or check digits.
    """
    if tax_id_type == "eu_vat":
        return parse_eu_vat_id(value).compact
    module = _NATIONAL.get(tax_id_type)
    if module is None:
        return value.strip()
    validate: Callable[[str], Any] = module.validate
    try:
        return str(validate(value))
    except stdnum_errors.ValidationError as exc:
        raise InvalidTaxIdError(
            f"{value!r} is not a valid {tax_id_type} id: {exc}",
            tax_id=value,
            tax_id_type=tax_id_type,
        ) from exc


@runtime_checkable
class VatIdValidator(Protocol):
    """Checks that an EU VAT id is registered (VIES or a fake)."""

    def check(self, vat_id: EuVatId) -> VatIdCheck:
        """Return the check; raise ``ProviderUnavailableError`` when the service is down."""
        ...


class FormatOnlyValidator:
    """Accepts every well-formed id: for offline use, when VIES is checked elsewhere."""

    def check(self, vat_id: EuVatId) -> VatIdCheck:
        return VatIdCheck(vat_id=vat_id.compact, valid=True, source="format_only")


__all__ = [
    "EuVatId",
    "FormatOnlyValidator",
    "VatIdCheck",
    "VatIdValidator",
    "parse_eu_vat_id",
    "validate_tax_id",
]
