"""Raw card numbers are refused everywhere they could slip in."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lms_billing.domain.card_data import contains_card_number, luhn_valid, reject_card_data
from lms_billing.domain.payments import PaymentMethodDetails, PaymentRequest, RefundRequest
from lms_billing.errors import CardDataRejectedError


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424242",
        "4242 4242 4242 4242",
        "4242-4242-4242-4242",
        "card: 4000 0000 0000 0002 exp 12/30",
        "ref 12 4242 4242 4242 4242",  # a card number next to another digit group
        "378282246310005",  # Amex, 15 digits
        "6011111111111117",
        "4000056655665556",
        "6200000000000005",  # UnionPay
        "3566002020360505",
        "6222 0200 0000 0000 000",  # 19 digits, Luhn-valid
    ],
)
def test_card_numbers_are_found(text: str) -> None:
    assert contains_card_number(text)


@pytest.mark.parametrize(
    "text",
    [
        "4242424242424241",  # Luhn fails
        "order 123456789012",  # 12 digits
        "pm_card_visa",
        "last4 4242, exp 12/2030",
        "12345678901234567890123",  # one long plain number (an id), not a PAN
        "2026-11-25",
    ],
)
def test_other_text_is_allowed(text: str) -> None:
    assert not contains_card_number(text)


def _luhn_complete(prefix: str) -> str:
    for check in "0123456789":
        if luhn_valid(prefix + check):
            return prefix + check
    raise AssertionError("unreachable: one check digit always fits")


@settings(max_examples=60)
@given(
    digits=st.text(alphabet="0123456789", min_size=12, max_size=18),
    separator=st.sampled_from(["", " ", "-"]),
    before=st.text(alphabet="abc :=", max_size=5),
)
def test_any_luhn_valid_13_to_19_digit_number_is_rejected(
    digits: str, separator: str, before: str
) -> None:
    pan = _luhn_complete(digits)
    grouped = separator.join(pan[i : i + 4] for i in range(0, len(pan), 4))
    with pytest.raises(CardDataRejectedError):
        reject_card_data({"note": f"{before}{grouped}"}, field="metadata")


def test_nested_values_keys_and_integers_are_scanned() -> None:
    with pytest.raises(CardDataRejectedError) as caught:
        reject_card_data({"a": ["ok", {"b": 4242424242424242}]}, field="metadata")
    assert caught.value.details["field"] == "metadata.a[1].b"
    with pytest.raises(CardDataRejectedError):
        reject_card_data({"4242424242424242": "x"})


def test_the_error_never_echoes_the_number() -> None:
    with pytest.raises(CardDataRejectedError) as caught:
        reject_card_data("4242424242424242", field="description")
    assert "4242424242424242" not in str(caught.value.to_dict())


def test_models_refuse_card_data() -> None:
    with pytest.raises(CardDataRejectedError):
        PaymentRequest(
            amount=100,
            currency="USD",
            idempotency_key="k",
            metadata={"note": "4242 4242 4242 4242"},
        )
    with pytest.raises(CardDataRejectedError):
        PaymentRequest(
            amount=100, currency="USD", idempotency_key="k", payment_method="4242424242424242"
        )
    with pytest.raises(CardDataRejectedError):
        PaymentMethodDetails(token="4242424242424242", gateway="sandbox")
    with pytest.raises(CardDataRejectedError):
        RefundRequest(payment_id="pi_1", idempotency_key="k", metadata={"x": "5555555555554444"})
