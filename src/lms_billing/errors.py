"""Typed errors raised by lms-billing.

Every error carries a stable machine ``code`` (for API responses and logs), a human
``message`` and optional ``details``. Callers sort failures by how they should react::

    BillingError
     ├── ConfigurationError              the host set lms-billing up wrongly
     │    └── PluginError                a plugin broke its contract
     ├── ValidationError                 bad input: fix the request, do not retry
     │    ├── InvalidAmountError         negative / fractional minor units, floats
     │    ├── UnknownCurrencyError
     │    ├── CurrencyMismatchError      arithmetic or pricing across currencies
     │    │    └── CouponCurrencyMismatchError  no amount_off / minimum for that currency
     │    ├── InvalidTiersError          empty, overlapping or unordered tiers
     │    ├── InvalidIntervalError       zero or negative interval counts
     │    ├── InvalidQuantityError       negative or fractional quantities, package sizes
     │    ├── InvalidSubscriptionError   no items, mixed intervals, bad trial or proration dates
     │    ├── InvalidAllocationError     allocation ratios that cannot split an amount
     │    ├── InvalidRoundingModeError   a rounding mode name lms-billing does not know
     │    ├── CardDataRejectedError      raw card numbers never enter the library
     │    ├── WebhookSignatureError      an inbound webhook failed verification
     │    ├── UnknownJurisdictionError   country / region codes no tax table knows
     │    ├── InvalidTaxIdError          malformed VAT ids, failed check digits
     │    ├── InvalidCouponError         percent and amount both set, percent out of range ...
     │    └── InvalidNumberingFormatError  a numbering series format that could repeat numbers
     ├── DomainError                     the request is well formed but the state forbids it
     │    ├── InvalidStateTransitionError
     │    │    └── InvoiceHasPaymentsError  voiding a (partly) paid invoice: credit it instead
     │    ├── InvalidSubscriptionOperationError  resume a subscription not set to cancel ...
     │    ├── FxRateUnavailableError
     │    ├── TaxRateUnavailableError    a date before a rate table's coverage
     │    ├── CouponExpiredError         past redeem_by / expires_at
     │    ├── CouponExhaustedError       max_redemptions (global or per customer) used up
     │    ├── CouponNotApplicableError   inactive, wrong customer, no eligible line ...
     │    │    ├── MinimumAmountNotMetError
     │    │    └── CouponAlreadyAppliedError  the same coupon twice on one invoice
     │    ├── CouponNotStackableError
     │    ├── InvoiceNotEditableError    only drafts change; correct the rest with credit notes
     │    ├── InvoiceNotCreditableError  credit notes need an open, paid or uncollectible invoice
     │    ├── CreditExceedsInvoiceError  more than invoiced minus already credited
     │    └── OverpaymentError           paying more than amount_remaining
     ├── NotFoundError
     ├── ConflictError                   retry after re-reading state
     │    ├── AlreadyExistsError         duplicate id, external id or lookup key
     │    ├── IdempotencyKeyMismatchError  same key, different request
     │    ├── IdempotencyKeyInUseError     same key, first request still running
     │    └── StaleVersionError
     ├── PaymentError                    an outcome the caller handles, not a crash
     │    ├── PaymentDeclinedError       carries decline_code
     │    ├── PaymentBlockedError        our fraud rules blocked the attempt (reasons recorded)
     │    └── AuthenticationRequiredError  SCA / 3DS next action needed
     └── ProviderError                   a gateway, tax service or other provider failed
          ├── ProviderUnavailableError   retryable (timeouts, 5xx, rate limits)
          │    └── StorageUnavailableError  the database cannot be reached or used
          └── ProviderInvalidRequestError

None of these subclass ``ValueError``: pydantic wraps ``ValueError`` raised in validators into
its own ``ValidationError``, while other exceptions pass through untouched, so a bad price
raised inside a model validator reaches the caller as the specific error below.
Dependencies' exceptions are translated at the edge and chained with ``raise ... from exc``.
"""

from __future__ import annotations

from typing import Any


class BillingError(Exception):
    """Root of every error lms-billing raises on purpose."""

    code: str = "billing_error"
    default_message: str = "A billing error occurred."

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.default_message
        self.details: dict[str, Any] = details
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly shape for HTTP adapters: ``{"code", "message", "details"}``."""
        return {
            "code": self.code,
            "message": self.message,
            "details": {k: _jsonable(v) for k, v in self.details.items()},
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | bool) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


# --- configuration -----------------------------------------------------------------------


class ConfigurationError(BillingError):
    code = "configuration_error"
    default_message = "lms-billing is not configured correctly."


class PluginError(ConfigurationError):
    code = "plugin_error"
    default_message = "A plugin returned something that breaks its hook contract."


# --- validation --------------------------------------------------------------------------


class ValidationError(BillingError):
    """Bad input. Distinct from ``pydantic.ValidationError``; services translate those."""

    code = "validation_error"
    default_message = "The request is invalid."


class InvalidAmountError(ValidationError):
    code = "invalid_amount"
    default_message = "The amount is invalid."


class UnknownCurrencyError(ValidationError):
    code = "unknown_currency"
    default_message = "The currency is not a known ISO 4217 code."


class CurrencyMismatchError(ValidationError):
    code = "currency_mismatch"
    default_message = "The amounts are in different currencies."


class InvalidTiersError(ValidationError):
    code = "invalid_tiers"
    default_message = "The price tiers are invalid."


class InvalidIntervalError(ValidationError):
    code = "invalid_interval"
    default_message = "The billing interval is invalid."


class InvalidQuantityError(ValidationError):
    code = "invalid_quantity"
    default_message = "The quantity is invalid."


class InvalidSubscriptionError(ValidationError):
    code = "invalid_subscription"
    default_message = "The subscription definition is invalid."


class InvalidAllocationError(ValidationError):
    code = "invalid_allocation"
    default_message = "The amount cannot be allocated by these ratios."


class InvalidRoundingModeError(ValidationError):
    code = "invalid_rounding_mode"
    default_message = "The rounding mode is not one of lms_billing.money.RoundingMode."


class CardDataRejectedError(ValidationError):
    code = "card_data_rejected"
    default_message = (
        "Raw card numbers are never accepted; pass a payment-method token from the gateway."
    )


class WebhookSignatureError(ValidationError):
    code = "webhook_signature_invalid"
    default_message = "The webhook signature is missing, invalid or outside the tolerance window."


class UnknownJurisdictionError(ValidationError):
    code = "unknown_jurisdiction"
    default_message = "The country or region is not a known tax jurisdiction."


class InvalidTaxIdError(ValidationError):
    code = "invalid_tax_id"
    default_message = "The tax id is malformed or fails its check digits."


class CouponCurrencyMismatchError(CurrencyMismatchError):
    code = "coupon_currency_mismatch"
    default_message = "The coupon has no amount or minimum for the order's currency."


class InvalidCouponError(ValidationError):
    code = "invalid_coupon"
    default_message = "The coupon or promotion code definition is invalid."


class InvalidNumberingFormatError(ValidationError):
    code = "invalid_numbering_format"
    default_message = "The document numbering format is invalid."


# --- domain ------------------------------------------------------------------------------


class DomainError(BillingError):
    code = "domain_error"
    default_message = "The operation is not allowed in the current state."


class InvalidStateTransitionError(DomainError):
    code = "invalid_state_transition"
    default_message = "That state transition is not allowed."


class InvoiceHasPaymentsError(InvalidStateTransitionError):
    code = "invoice_has_payments"
    default_message = (
        "An invoice with payments cannot be voided; issue a credit note (refund or customer "
        "credit) instead."
    )


class InvalidSubscriptionOperationError(DomainError):
    code = "invalid_subscription_operation"
    default_message = "The subscription's current state does not allow this operation."


class FxRateUnavailableError(DomainError):
    code = "fx_rate_unavailable"
    default_message = "No exchange rate is available for that currency pair."


class TaxRateUnavailableError(DomainError):
    code = "tax_rate_unavailable"
    default_message = "No tax rate is known for that jurisdiction on that date."


class CouponExpiredError(DomainError):
    code = "coupon_expired"
    default_message = "The coupon or promotion code has expired."


class CouponExhaustedError(DomainError):
    code = "coupon_exhausted"
    default_message = "The coupon or promotion code has no redemptions left."


class CouponNotApplicableError(DomainError):
    code = "coupon_not_applicable"
    default_message = "The coupon does not apply to this customer or order."


class MinimumAmountNotMetError(CouponNotApplicableError):
    code = "minimum_amount_not_met"
    default_message = "The order is below the coupon's minimum amount."


class CouponAlreadyAppliedError(CouponNotApplicableError):
    code = "coupon_already_applied"
    default_message = "The coupon is already applied to this invoice."


class CouponNotStackableError(DomainError):
    code = "coupon_not_stackable"
    default_message = "These coupons cannot be combined."


class InvoiceNotEditableError(DomainError):
    code = "invoice_not_editable"
    default_message = "Only draft invoices can be edited; correct finalized ones with credit notes."


class InvoiceNotCreditableError(DomainError):
    code = "invoice_not_creditable"
    default_message = "Credit notes can only be issued for open, paid or uncollectible invoices."


class CreditExceedsInvoiceError(DomainError):
    code = "credit_exceeds_invoice"
    default_message = "The credit is larger than what was invoiced and not yet credited."


class OverpaymentError(DomainError):
    code = "overpayment"
    default_message = "The payment is larger than the invoice's amount remaining."


# --- not found / conflict ----------------------------------------------------------------


class NotFoundError(BillingError):
    code = "not_found"
    default_message = "The requested object does not exist."


class ConflictError(BillingError):
    code = "conflict"
    default_message = "The request conflicts with the current state."


class AlreadyExistsError(ConflictError):
    code = "already_exists"
    default_message = "An object with this id, external id or lookup key already exists."


class IdempotencyKeyMismatchError(ConflictError):
    code = "idempotency_key_mismatch"
    default_message = "This idempotency key was already used with a different request."


class IdempotencyKeyInUseError(ConflictError):
    code = "idempotency_key_in_use"
    default_message = "A request with this idempotency key is still being processed."


class StaleVersionError(ConflictError):
    code = "stale_version"
    default_message = "The object was changed by someone else; reload and retry."


# --- payments and providers --------------------------------------------------------------


class PaymentError(BillingError):
    code = "payment_error"
    default_message = "The payment could not be completed."


class PaymentDeclinedError(PaymentError):
    code = "payment_declined"
    default_message = "The payment was declined."

    def __init__(
        self,
        message: str | None = None,
        *,
        decline_code: str | None = None,
        **details: Any,
    ) -> None:
        self.decline_code = decline_code
        super().__init__(message, decline_code=decline_code, **details)


class PaymentBlockedError(PaymentError):
    code = "payment_blocked"
    default_message = "The payment was blocked by fraud rules before reaching the gateway."


class AuthenticationRequiredError(PaymentError):
    code = "authentication_required"
    default_message = "The customer must authenticate the payment (SCA / 3-D Secure)."


class ProviderError(BillingError):
    """A provider failed. ``retryable`` says whether the same call may succeed later."""

    code = "provider_error"
    default_message = "The provider returned an error."
    retryable: bool = False

    def __init__(
        self,
        message: str | None = None,
        *,
        provider: str | None = None,
        provider_code: str | None = None,
        request_id: str | None = None,
        http_status: int | None = None,
        retryable: bool | None = None,
        **details: Any,
    ) -> None:
        self.provider = provider
        self.provider_code = provider_code
        self.request_id = request_id
        self.http_status = http_status
        if retryable is not None:
            self.retryable = retryable
        super().__init__(
            message,
            provider=provider,
            provider_code=provider_code,
            request_id=request_id,
            http_status=http_status,
            retryable=self.retryable,
            **details,
        )


class ProviderUnavailableError(ProviderError):
    code = "provider_unavailable"
    default_message = "The provider is unavailable; retry later."
    retryable = True


class StorageUnavailableError(ProviderUnavailableError):
    """The database behind the storage URL cannot be reached or refused the work.

    ``provider`` is the backend (``sqlite``, ``postgresql``); ``retryable`` is False when
    retrying cannot help (a SQLite file whose folder does not exist or cannot be written).
    """

    code = "storage_unavailable"
    default_message = "The storage database is unavailable."


class ProviderInvalidRequestError(ProviderError):
    code = "provider_invalid_request"
    default_message = "The provider rejected the request as invalid."


__all__ = [
    "AlreadyExistsError",
    "AuthenticationRequiredError",
    "BillingError",
    "CardDataRejectedError",
    "ConfigurationError",
    "ConflictError",
    "CouponAlreadyAppliedError",
    "CouponCurrencyMismatchError",
    "CouponExhaustedError",
    "CouponExpiredError",
    "CouponNotApplicableError",
    "CouponNotStackableError",
    "CreditExceedsInvoiceError",
    "CurrencyMismatchError",
    "DomainError",
    "FxRateUnavailableError",
    "IdempotencyKeyInUseError",
    "IdempotencyKeyMismatchError",
    "InvalidAllocationError",
    "InvalidAmountError",
    "InvalidCouponError",
    "InvalidIntervalError",
    "InvalidNumberingFormatError",
    "InvalidQuantityError",
    "InvalidRoundingModeError",
    "InvalidStateTransitionError",
    "InvalidSubscriptionError",
    "InvalidSubscriptionOperationError",
    "InvalidTaxIdError",
    "InvalidTiersError",
    "InvoiceHasPaymentsError",
    "InvoiceNotCreditableError",
    "InvoiceNotEditableError",
    "MinimumAmountNotMetError",
    "NotFoundError",
    "OverpaymentError",
    "PaymentBlockedError",
    "PaymentDeclinedError",
    "PaymentError",
    "PluginError",
    "ProviderError",
    "ProviderInvalidRequestError",
    "ProviderUnavailableError",
    "StaleVersionError",
    "StorageUnavailableError",
    "TaxRateUnavailableError",
    "UnknownCurrencyError",
    "UnknownJurisdictionError",
    "ValidationError",
    "WebhookSignatureError",
]
