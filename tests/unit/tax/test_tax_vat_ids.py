"""VAT id format checks (python-stdnum) and the VIES REST validator (HTTP mocked)."""

from __future__ import annotations

import json
from datetime import date

import pytest
import requests
import responses

from lms_billing.errors import (
    InvalidTaxIdError,
    ProviderInvalidRequestError,
    ProviderUnavailableError,
)
from lms_billing.tax.vat_ids import FormatOnlyValidator, parse_eu_vat_id, validate_tax_id
from lms_billing.tax.vies import VIES_REST_URL, ViesRestValidator

CHECK_URL = f"{VIES_REST_URL}/check-vat-number"


def test_eu_vat_ids_are_normalized() -> None:
    vat_id = parse_eu_vat_id("de 136 695 976")
    assert (vat_id.prefix, vat_id.number, vat_id.country) == ("DE", "136695976", "DE")
    greek = parse_eu_vat_id("EL094259216")
    assert (greek.prefix, greek.country) == ("EL", "GR")


@pytest.mark.parametrize("value", ["DE136695977", "XX123", "FR", "GB980780684", ""])
def test_malformed_or_non_eu_ids_raise(value: str) -> None:
    with pytest.raises(InvalidTaxIdError):
        parse_eu_vat_id(value)


def test_typed_tax_ids() -> None:
    assert validate_tax_id("gb_vat", "GB 980 7806 84") == "980780684"
    assert validate_tax_id("eu_vat", "ATU13585627") == "ATU13585627"
    assert validate_tax_id("br_cnpj", " 123 ") == "123"  # no checker: stripped, unchecked
    with pytest.raises(InvalidTaxIdError):
        validate_tax_id("au_abn", "51 824 753 557")


def test_format_only_validator_accepts_well_formed_ids() -> None:
    assert FormatOnlyValidator().check(parse_eu_vat_id("FR40303265045")).valid


@responses.activate
def test_vies_valid_answer_is_recorded_as_evidence() -> None:
    responses.post(
        CHECK_URL,
        json={
            "countryCode": "FR",
            "vatNumber": "40303265045",
            "requestDate": "2025-09-01T10:15:42.123Z",
            "valid": True,
            "requestIdentifier": "WAPIAAAAZ8x1",
            "name": "SA ODIGEO",
            "address": "1 RUE DU PONT\n75001 PARIS",
            "traderName": "---",
            "traderStreet": "---",
            "traderPostalCode": "---",
            "traderCity": "---",
            "traderCompanyType": "---",
            "traderNameMatch": "NOT_PROCESSED",
            "traderStreetMatch": "NOT_PROCESSED",
            "traderPostalCodeMatch": "NOT_PROCESSED",
            "traderCityMatch": "NOT_PROCESSED",
            "traderCompanyTypeMatch": "NOT_PROCESSED",
        },
    )
    # VIES returns a consultation number only to a query that names its requester.
    validator = ViesRestValidator(requester_vat_id="IE 6388047V")
    check = validator.check(parse_eu_vat_id("FR40303265045"))
    body = responses.calls[0].request.body
    assert isinstance(body, bytes | str)
    assert json.loads(body) == {
        "countryCode": "FR",
        "vatNumber": "40303265045",
        "requesterMemberStateCode": "IE",
        "requesterNumber": "6388047V",
    }
    assert check.valid and check.vat_id == "FR40303265045"
    assert check.checked_on == date(2025, 9, 1)
    assert (check.name, check.request_identifier) == ("SA ODIGEO", "WAPIAAAAZ8x1")
    assert (check.requester, check.source) == ("IE6388047V", "vies")


@responses.activate
def test_vies_without_a_requester_gives_no_consultation_number() -> None:
    responses.post(
        CHECK_URL,
        json={
            "countryCode": "FR",
            "vatNumber": "40303265045",
            "requestDate": "2025-09-01T10:15:42.123Z",
            "valid": True,
            "requestIdentifier": "",
            "name": "SA ODIGEO",
            "address": "1 RUE DU PONT\n75001 PARIS",
        },
    )
    check = ViesRestValidator().check(parse_eu_vat_id("FR40303265045"))
    body = responses.calls[0].request.body
    assert isinstance(body, bytes | str)
    assert json.loads(body) == {"countryCode": "FR", "vatNumber": "40303265045"}
    assert check.valid and check.request_identifier is None and check.requester is None


def test_a_malformed_requester_vat_id_is_rejected_up_front() -> None:
    with pytest.raises(InvalidTaxIdError):
        ViesRestValidator(requester_vat_id="IE123")


@responses.activate
def test_vies_invalid_answer() -> None:
    responses.post(
        CHECK_URL,
        json={
            "countryCode": "DE",
            "vatNumber": "136695976",
            "requestDate": "2025-09-01T10:15:42.123Z",
            "valid": False,
            "requestIdentifier": "",
            "name": "---",
            "address": "---",
        },
    )
    check = ViesRestValidator().check(parse_eu_vat_id("DE136695976"))
    assert not check.valid and check.name is None


@pytest.mark.parametrize(
    ("status", "payload"),
    [
        (200, {"actionSucceed": False, "errorWrappers": [{"error": "MS_UNAVAILABLE"}]}),
        (500, {"actionSucceed": False, "errorWrappers": [{"error": "SERVICE_UNAVAILABLE"}]}),
        (400, {"actionSucceed": False, "errorWrappers": [{"error": "MS_MAX_CONCURRENT_REQ"}]}),
    ],
)
@responses.activate
def test_vies_outages_are_retryable_provider_errors(
    status: int, payload: dict[str, object]
) -> None:
    responses.post(CHECK_URL, json=payload, status=status)
    with pytest.raises(ProviderUnavailableError) as info:
        ViesRestValidator().check(parse_eu_vat_id("DE136695976"))
    assert info.value.retryable and info.value.provider == "vies"


@responses.activate
def test_vies_rejected_input() -> None:
    responses.post(
        CHECK_URL,
        json={"actionSucceed": False, "errorWrappers": [{"error": "INVALID_INPUT"}]},
        status=400,
    )
    with pytest.raises(ProviderInvalidRequestError) as info:
        ViesRestValidator().check(parse_eu_vat_id("DE136695976"))
    assert info.value.provider_code == "INVALID_INPUT"


@responses.activate
def test_vies_network_failure() -> None:
    responses.post(CHECK_URL, body=requests.ConnectionError("reset"))
    with pytest.raises(ProviderUnavailableError):
        ViesRestValidator().check(parse_eu_vat_id("DE136695976"))
