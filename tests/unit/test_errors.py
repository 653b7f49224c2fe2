"""The typed error hierarchy."""

from __future__ import annotations

import inspect

import pytest

from lms_billing import errors
from lms_billing.errors import (
    BillingError,
    PaymentDeclinedError,
    ProviderError,
    ProviderUnavailableError,
    ValidationError,
)


def _error_classes() -> list[type[BillingError]]:
    return [
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, BillingError)
    ]


def test_every_error_has_a_unique_machine_code() -> None:
    codes = [cls.code for cls in _error_classes()]
    assert len(codes) == len(set(codes))
    assert all(code and code == code.lower() for code in codes)


def test_no_error_is_a_value_error() -> None:
    # pydantic would swallow ValueErrors raised in validators into its own ValidationError.
    assert not any(issubclass(cls, ValueError) for cls in _error_classes())


def test_all_exports_every_error_sorted() -> None:
    assert errors.__all__ == sorted(errors.__all__)
    assert {cls.__name__ for cls in _error_classes()} == set(errors.__all__)


def test_errors_carry_code_message_and_details() -> None:
    error = ValidationError("bad tier", field="tiers")
    assert error.to_dict() == {
        "code": "validation_error",
        "message": "bad tier",
        "details": {"field": "tiers"},
    }
    assert str(error) == "bad tier"


def test_decline_carries_decline_code() -> None:
    error = PaymentDeclinedError(decline_code="insufficient_funds")
    assert error.decline_code == "insufficient_funds"
    assert error.to_dict()["details"]["decline_code"] == "insufficient_funds"


def test_provider_errors_say_whether_to_retry() -> None:
    assert ProviderUnavailableError(provider="stripe").retryable is True
    assert ProviderError(provider="stripe", request_id="req_1").retryable is False
    assert ProviderError(retryable=True).retryable is True
    with pytest.raises(BillingError):
        raise ProviderUnavailableError(provider="paypal", http_status=503)
