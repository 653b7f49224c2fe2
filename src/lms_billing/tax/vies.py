"""Live VAT id checks against VIES, the EU's VAT Information Exchange System (REST API).

Needs ``requests`` (installed with the ``stripe`` extra). Plug it into the EU engine:
``EuVatEngine(validator=ViesRestValidator(requester_vat_id="IE6388047V"))``. Every answer is a
:class:`~lms_billing.domain.tax.VatIdCheck`; the engine puts it on its result
(``TaxResult.vat_id_checks``). Its ``request_identifier`` (given only to queries that name the
requester) is the audit evidence.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import requests

from lms_billing.errors import ProviderInvalidRequestError, ProviderUnavailableError
from lms_billing.tax.vat_ids import EuVatId, VatIdCheck, parse_eu_vat_id

VIES_REST_URL = "https://ec.europa.eu/taxation_customs/vies/rest-api"

# VIES user errors that mean "try again later", not "this id is invalid".
_VIES_RETRYABLE = frozenset(
    {
        "GLOBAL_MAX_CONCURRENT_REQ",
        "MS_MAX_CONCURRENT_REQ",
        "MS_UNAVAILABLE",
        "SERVICE_UNAVAILABLE",
        "TIMEOUT",
    }
)


class ViesRestValidator:
    """Checks VAT ids against the VIES REST API (``POST /check-vat-number``).

    :param session: a ``requests.Session`` (pass one with retries or a proxy); a new one if
        omitted.
    :param requester_vat_id: the seller's own EU VAT id. VIES only returns a consultation
        number (``requestIdentifier``, the proof of the check for an audit) to a query that
        names its requester (``requesterMemberStateCode`` / ``requesterNumber``).
    :param base_url: the VIES REST base URL.
    :param timeout: seconds before the call counts as unavailable.
    :raises InvalidTaxIdError: ``requester_vat_id`` is not a well-formed EU VAT id.
    """

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        requester_vat_id: str | None = None,
        base_url: str = VIES_REST_URL,
        timeout: float = 10.0,
    ) -> None:
        self._session = session or requests.Session()
        self._requester = None if requester_vat_id is None else parse_eu_vat_id(requester_vat_id)
        self._url = base_url.rstrip("/") + "/check-vat-number"
        self._timeout = timeout

    def check(self, vat_id: EuVatId) -> VatIdCheck:
        """Ask VIES whether ``vat_id`` is registered.

        :raises ProviderUnavailableError: network failure, 5xx, or a VIES "try later" error.
        :raises ProviderInvalidRequestError: VIES rejected the input.
        """
        body = {"countryCode": vat_id.prefix, "vatNumber": vat_id.number}
        if self._requester is not None:
            body["requesterMemberStateCode"] = self._requester.prefix
            body["requesterNumber"] = self._requester.number
        try:
            response = self._session.post(self._url, json=body, timeout=self._timeout)
        except requests.RequestException as exc:
            raise ProviderUnavailableError(
                f"VIES could not be reached: {exc}", provider="vies"
            ) from exc
        try:
            payload: dict[str, Any] = response.json()
        except ValueError as exc:
            raise ProviderUnavailableError(
                "VIES returned a non-JSON answer.",
                provider="vies",
                http_status=response.status_code,
            ) from exc
        error = _vies_error(payload)
        if error is not None or response.status_code >= 400:
            code = error or f"HTTP_{response.status_code}"
            if code in _VIES_RETRYABLE or response.status_code >= 500:
                raise ProviderUnavailableError(
                    f"VIES is unavailable ({code}).",
                    provider="vies",
                    provider_code=code,
                    http_status=response.status_code,
                )
            raise ProviderInvalidRequestError(
                f"VIES rejected the request ({code}).",
                provider="vies",
                provider_code=code,
                http_status=response.status_code,
            )
        valid = payload.get("valid", payload.get("isValid"))
        if not isinstance(valid, bool):
            raise ProviderUnavailableError("VIES answer has no validity flag.", provider="vies")
        return VatIdCheck(
            vat_id=vat_id.compact,
            valid=valid,
            checked_on=_vies_date(payload.get("requestDate")),
            name=_vies_text(payload.get("name")),
            address=_vies_text(payload.get("address")),
            request_identifier=_vies_text(payload.get("requestIdentifier")),
            requester=None if self._requester is None else self._requester.compact,
        )


def _vies_error(payload: dict[str, Any]) -> str | None:
    wrappers = payload.get("errorWrappers")
    if isinstance(wrappers, list) and wrappers:
        first = wrappers[0]
        if isinstance(first, dict):
            return str(first.get("error", "UNKNOWN"))
    user_error = payload.get("userError")
    if isinstance(user_error, str) and user_error not in ("VALID", "INVALID"):
        return user_error
    return None


def _vies_text(value: object) -> str | None:
    # VIES prints "---" when a member state does not disclose a field.
    if not isinstance(value, str) or not value.strip() or value.strip() == "---":
        return None
    return value.strip()


def _vies_date(value: object) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


__all__ = ["VIES_REST_URL", "ViesRestValidator"]
