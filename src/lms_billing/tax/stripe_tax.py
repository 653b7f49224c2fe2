"""Stripe Tax adapter: precise rates (US local taxes included) from Stripe's tax API.

Calls ``POST /v1/tax/calculations`` through the official SDK (``StripeClient.v1.tax.
calculations.create``) with the line items, the customer's address, IP address and tax ids, and
maps every ``tax_breakdown`` entry of every line item to a :class:`TaxLine`. Stripe rounds; we
do not re-round. Needs Stripe Tax enabled and registrations added in the Stripe Dashboard.

Never a silent zero: Stripe's ``not_supported`` (Stripe cannot tax that location), an unknown
taxability reason, a line with no ``tax_breakdown`` and a line Stripe leaves out of its answer
all come back as ``needs_review``. EU consumers need the same two agreeing pieces of location
evidence as with the built-in EU engine before Stripe is asked, and ``tax_exempt="reverse"``
needs a tax id. Zero-amount lines are not sent (Stripe wants a positive amount): nothing to tax.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

import stripe

from lms_billing.domain.customers import TaxExempt
from lms_billing.domain.tax import EU_MEMBER_STATES, TaxLine, TaxReason, TaxRequest, TaxResult
from lms_billing.errors import (
    ProviderError,
    ProviderInvalidRequestError,
    ProviderUnavailableError,
)
from lms_billing.tax._common import (
    REVERSE_CHARGE_NOTE,
    find_tax_id,
    reverse_charge_without_id,
    review,
)
from lms_billing.tax.evidence import assess_location

# Stripe's taxability reasons that mean the same as our own reason codes.
_REASONS = {
    "not_collecting": TaxReason.NOT_REGISTERED,
    "customer_exempt": TaxReason.EXEMPT,
    "reverse_charge": TaxReason.REVERSE_CHARGE,
    "not_subject_to_tax": TaxReason.NOT_TAXABLE,
}
# Every taxability_reason in Stripe's API reference (tax.calculation_line_item). Stripe may add
# more; one we do not know goes to review rather than being trusted blindly.
_KNOWN_REASONS = frozenset(
    {
        "customer_exempt",
        "not_collecting",
        "not_subject_to_tax",
        "not_supported",
        "portion_product_exempt",
        "portion_reduced_rated",
        "portion_standard_rated",
        "product_exempt",
        "product_exempt_holiday",
        "proportionally_rated",
        "reduced_rated",
        "reverse_charge",
        "standard_rated",
        "taxable_basis_reduced",
        "zero_rated",
    }
)


class StripeTaxEngine:
    """Tax computed by Stripe Tax (``name="stripe_tax"``).

    :param client: a configured ``stripe.StripeClient`` (one per tenant; no global api key).
    :param countries: customer countries this engine handles; ``None`` handles all.
    :param send_tax_date: pass the transaction date as ``tax_date`` (Stripe accepts dates up
        to 31 days in the past or future).
    :param eu_evidence_required: agreeing pieces of location evidence needed before an EU
        consumer is sent to Stripe (the EU rule: 2; ``0`` leaves it to Stripe).
    """

    name = "stripe_tax"

    def __init__(
        self,
        client: stripe.StripeClient,
        *,
        countries: Iterable[str] | None = None,
        send_tax_date: bool = True,
        eu_evidence_required: int = 2,
    ) -> None:
        self._client = client
        self._countries = None if countries is None else frozenset(c.upper() for c in countries)
        self._send_tax_date = send_tax_date
        self._eu_evidence_required = eu_evidence_required

    def handles(self, request: TaxRequest) -> bool:
        """Customers in the configured countries (all when none are configured)."""
        return self._countries is None or request.customer.country in self._countries

    def calculate(self, request: TaxRequest) -> TaxResult:
        """Ask Stripe Tax and map its answer.

        :raises ProviderUnavailableError: network failures, rate limits, Stripe 5xx.
        :raises ProviderInvalidRequestError: Stripe rejected the request (bad address ...).
        :raises ProviderError: authentication or other Stripe failures.
        """
        reasons = self.review_before_calling(request)
        if reasons:
            return review(self.name, reasons)
        params = self.build_params(request)
        if not params["line_items"]:
            return TaxResult(engine=self.name)  # only zero-amount lines: nothing to tax
        try:
            calculation = self._client.v1.tax.calculations.create(params=params)  # type: ignore[arg-type]
            items = list(calculation.line_items or [])
            if calculation.line_items is not None and calculation.line_items.has_more:
                items = list(
                    self._client.v1.tax.calculations.line_items.list(
                        str(calculation.id), params={"limit": 100}
                    ).auto_paging_iter()
                )
        except stripe.StripeError as exc:
            raise _translate(exc) from exc
        # StripeObjects are not dicts in recent SDKs: map plain data.
        return self.to_result(request, [item.to_dict() for item in items])

    def review_before_calling(self, request: TaxRequest) -> tuple[str, ...]:
        """Rules lms-billing keeps even when Stripe computes: reasons to review, or ``()``."""
        customer = request.customer
        if customer.tax_exempt == TaxExempt.REVERSE and not customer.tax_ids:
            return (reverse_charge_without_id(customer.country),)
        eu_consumer = (
            customer.country in EU_MEMBER_STATES and find_tax_id(customer, ("eu_vat",)) is None
        )
        if eu_consumer and self._eu_evidence_required > 0:
            assessment = assess_location(
                request.evidence, customer.country, required=self._eu_evidence_required
            )
            if not assessment.ok:
                return assessment.reasons
        return ()

    def build_params(self, request: TaxRequest) -> dict[str, Any]:
        """The ``POST /v1/tax/calculations`` parameters for ``request``."""
        customer = request.customer
        address: dict[str, str] = {"country": customer.country}
        if customer.region:
            address["state"] = customer.region
        if customer.postal_code:
            address["postal_code"] = customer.postal_code
        details: dict[str, Any] = {"address": address, "address_source": "billing"}
        if customer.tax_ids:
            details["tax_ids"] = [{"type": t.type, "value": t.value} for t in customer.tax_ids]
        jurisdiction = (
            f"{customer.country}-{customer.region}" if customer.region else customer.country
        )
        if customer.is_exempt(jurisdiction, request.transaction_date):
            details["taxability_override"] = "customer_exempt"
        elif customer.tax_exempt == TaxExempt.REVERSE:
            details["taxability_override"] = "reverse_charge"
        if request.evidence is not None and request.evidence.ip_address:
            details["ip_address"] = request.evidence.ip_address
        line_items = []
        for item in request.items:
            if item.amount <= 0:
                continue  # Stripe wants a positive amount; a zero line has no tax
            line: dict[str, Any] = {
                "amount": item.amount,
                "reference": item.line_id,
                "quantity": item.quantity or 1,
                "tax_behavior": item.tax_behavior,
            }
            if item.tax_code:
                line["tax_code"] = item.tax_code
            line_items.append(line)
        params: dict[str, Any] = {
            "currency": request.currency.lower(),
            "customer_details": details,
            "line_items": line_items,
            "expand": ["line_items"],
        }
        if self._send_tax_date:
            midnight = datetime.combine(request.transaction_date, time(0), tzinfo=UTC)
            params["tax_date"] = int(midnight.timestamp())
        return params

    def to_result(self, request: TaxRequest, items: Iterable[Mapping[str, Any]]) -> TaxResult:
        """Map Stripe ``tax.calculation_line_item`` objects (as dicts) to a :class:`TaxResult`.

        A result with review reasons has no lines, like every ``needs_review`` result.
        """
        known = {item.line_id for item in request.items}
        sent = [item.line_id for item in request.items if item.amount > 0]
        answered: set[str] = set()
        lines: list[TaxLine] = []
        notes: list[str] = []
        reasons: list[str] = []
        for item in items:
            reference = item["reference"]
            if reference not in known:
                raise ProviderError(
                    f"Stripe Tax returned an unknown line reference {reference!r}.",
                    provider="stripe",
                )
            answered.add(reference)
            inclusive = item["tax_behavior"] == "inclusive"
            breakdown = item.get("tax_breakdown") or []
            if not breakdown:
                reasons.append(f"stripe_tax_no_breakdown: {reference}")
            for part in breakdown:
                line = _tax_line(reference, inclusive, part)
                stripe_reason = str(part["taxability_reason"])
                if stripe_reason == "not_supported":
                    reasons.append(f"stripe_tax_not_supported: {reference} ({line.jurisdiction})")
                elif stripe_reason not in _KNOWN_REASONS:
                    reasons.append(
                        f"stripe_tax_unknown_reason: {reference} ({line.jurisdiction}: "
                        f"{stripe_reason})"
                    )
                if line.reverse_charge:
                    notes.append(REVERSE_CHARGE_NOTE)
                lines.append(line)
        reasons.extend(f"stripe_tax_line_missing: {ref}" for ref in sent if ref not in answered)
        if reasons:
            return review(self.name, reasons)
        return TaxResult(engine=self.name, lines=tuple(lines), notes=tuple(dict.fromkeys(notes)))


def _tax_line(reference: str, inclusive: bool, part: Mapping[str, Any]) -> TaxLine:
    where = part["jurisdiction"]
    jurisdiction = str(where["country"])
    if where.get("state"):
        jurisdiction += f"-{where['state']}"
    if where.get("level") in ("county", "city", "district"):
        jurisdiction += f":{where['level']}:{where['display_name']}"
    details = part.get("tax_rate_details")
    rate = Decimal(0)
    tax_type = "none"
    if details is not None:
        rate = Decimal(str(details["percentage_decimal"])).scaleb(-2)
        tax_type = str(details["tax_type"])
    reason = str(part["taxability_reason"])
    return TaxLine(
        line_id=reference,
        jurisdiction=jurisdiction,
        tax_type=tax_type,
        rate=rate,
        taxable_amount=int(part["taxable_amount"]),
        tax_amount=int(part["amount"]),
        reverse_charge=reason == "reverse_charge",
        reason=str(_REASONS.get(reason, reason)),
        inclusive=inclusive,
    )


def _translate(exc: stripe.StripeError) -> ProviderError:
    common: dict[str, Any] = {
        "provider": "stripe",
        "provider_code": exc.code,
        "request_id": exc.request_id,
        "http_status": exc.http_status,
    }
    message = exc.user_message or str(exc) or "Stripe Tax failed."
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError):
        return ProviderUnavailableError(message, **common)
    if isinstance(exc, stripe.APIError) and (exc.http_status or 500) >= 500:
        return ProviderUnavailableError(message, **common)
    if isinstance(exc, stripe.InvalidRequestError):
        return ProviderInvalidRequestError(message, **common)
    return ProviderError(message, **common)


__all__ = ["StripeTaxEngine"]
