"""PayPal REST JSON (Orders v2, Payments v2, Vault v3, webhooks) to lms-billing models.

PayPal money is ``{"currency_code": "USD", "value": "100.00"}`` with a decimal *string*;
it is converted to integer minor units exactly (never through float). PayPal takes no
decimals for HUF, JPY and TWD, although ISO 4217 gives HUF and TWD two.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from lms_billing.domain.payments import (
    WEBHOOK_PAYMENT_STATUS,
    BalanceTransaction,
    CaptureMethod,
    NextAction,
    PaymentMethodDetails,
    PaymentResult,
    PaymentStatus,
    RefundResult,
    RefundStatus,
    WebhookEvent,
    WebhookEventType,
)
from lms_billing.errors import InvalidAmountError, ProviderInvalidRequestError
from lms_billing.money import Money, from_minor_units, minor_digits, to_minor_units

JsonObject = Mapping[str, Any]

PAYPAL_ZERO_DECIMAL_CURRENCIES = frozenset({"HUF", "JPY", "TWD"})


# --- money -------------------------------------------------------------------------------


def paypal_amount(amount_minor: int, currency: str) -> dict[str, str]:
    """Minor units as PayPal's money object; refuses amounts PayPal cannot express."""
    code = currency.upper()
    money = from_minor_units(amount_minor, code)
    if code in PAYPAL_ZERO_DECIMAL_CURRENCIES:
        if money.amount != money.amount.to_integral_value():
            raise InvalidAmountError(
                f"PayPal takes whole {code} amounts only; {money.amount} has a fraction.",
                amount=amount_minor,
                currency=code,
            )
        return {"currency_code": code, "value": str(int(money.amount))}
    digits = minor_digits(code)
    return {"currency_code": code, "value": f"{money.amount:.{digits}f}"}


def minor_from_paypal(money: object) -> tuple[int, str]:
    """PayPal's money object as ``(minor units, currency)``; exact or an error."""
    if not isinstance(money, Mapping):
        raise ProviderInvalidRequestError("PayPal returned no amount.", provider="paypal")
    code = str(money.get("currency_code", "")).upper()
    try:
        value = Decimal(str(money.get("value")))
    except InvalidOperation as exc:
        raise ProviderInvalidRequestError(
            f"PayPal returned a malformed amount {money.get('value')!r}.", provider="paypal"
        ) from exc
    return to_minor_units(Money(value, code)), code


def parse_time(value: object) -> datetime | None:
    """PayPal's RFC 3339 timestamps (``2021-11-14T23:38:52Z``, ``...-08:00``)."""
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def link(obj: JsonObject, *rels: str) -> str | None:
    """The first HATEOAS link with one of ``rels``."""
    for candidate in obj.get("links") or []:
        if candidate.get("rel") in rels:
            href = candidate.get("href")
            return str(href) if href else None
    return None


# --- orders ------------------------------------------------------------------------------


def _units(order: JsonObject) -> Sequence[JsonObject]:
    units: Sequence[JsonObject] = order.get("purchase_units") or []
    return units


def captures(order: JsonObject) -> list[JsonObject]:
    return [c for u in _units(order) for c in (u.get("payments") or {}).get("captures") or []]


def authorizations(order: JsonObject) -> list[JsonObject]:
    return [a for u in _units(order) for a in (u.get("payments") or {}).get("authorizations") or []]


def refunds(order: JsonObject) -> list[JsonObject]:
    return [r for u in _units(order) for r in (u.get("payments") or {}).get("refunds") or []]


def _order_amount(order: JsonObject, fallback: tuple[int, str] | None) -> tuple[int, str]:
    for unit in _units(order):
        if unit.get("amount"):
            return minor_from_paypal(unit["amount"])
    for item in captures(order) + authorizations(order):
        if item.get("amount"):
            return minor_from_paypal(item["amount"])
    if fallback is None:
        raise ProviderInvalidRequestError(
            "PayPal returned an order without an amount.", provider="paypal"
        )
    return fallback


def balance_from_capture(capture: JsonObject, gateway: str) -> BalanceTransaction | None:
    """The settlement side of a capture, from ``seller_receivable_breakdown``."""
    breakdown = capture.get("seller_receivable_breakdown")
    if not isinstance(breakdown, Mapping) or "net_amount" not in breakdown:
        return None
    gross, currency = minor_from_paypal(breakdown.get("gross_amount"))
    fee = minor_from_paypal(breakdown["paypal_fee"])[0] if breakdown.get("paypal_fee") else 0
    net, net_currency = minor_from_paypal(breakdown["net_amount"])
    rate = None
    if breakdown.get("receivable_amount"):
        # Converted into the merchant's holding currency: that is the settlement.
        net, net_currency = minor_from_paypal(breakdown["receivable_amount"])
        gross, currency = net + fee, net_currency
        raw_rate = (breakdown.get("exchange_rate") or {}).get("value")
        rate = Decimal(str(raw_rate)) if raw_rate is not None else None
        if breakdown.get("paypal_fee_in_receivable_currency"):
            fee = minor_from_paypal(breakdown["paypal_fee_in_receivable_currency"])[0]
            gross = net + fee
    return BalanceTransaction(
        id=str(capture["id"]),
        gateway=gateway,
        type="charge",
        amount=gross,
        fee=fee,
        net=net,
        currency=net_currency if rate is not None else currency,
        exchange_rate=rate,
        source_id=str(capture["id"]),
        status=str(capture.get("status", "")).lower() or None,
        created=parse_time(capture.get("create_time")),
    )


def _decline(item: JsonObject) -> str | None:
    details = item.get("status_details") or {}
    reason = details.get("reason")
    response = (item.get("processor_response") or {}).get("response_code")
    if reason:
        return str(reason).lower()
    return f"processor_{response}" if response else None


def payment_from_order(
    order: JsonObject, gateway: str, *, fallback_amount: tuple[int, str] | None = None
) -> PaymentResult:
    """An Orders v2 order as a :class:`PaymentResult` (id = the order id).

    ``COMPLETED`` is not enough: the captures say whether money moved (PayPal's own advice).
    """
    amount, currency = _order_amount(order, fallback_amount)
    status_name = str(order.get("status", "")).upper()
    manual = str(order.get("intent", "")).upper() == "AUTHORIZE"
    caps, auths = captures(order), authorizations(order)
    received = sum(
        minor_from_paypal(c["amount"])[0]
        for c in caps
        if c.get("status") in {"COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED"}
    )
    refunded = sum(
        minor_from_paypal(r["amount"])[0] for r in refunds(order) if r.get("status") == "COMPLETED"
    )
    capturable = 0
    next_action = None
    decline_code = None
    if status_name in {"CREATED", "PAYER_ACTION_REQUIRED"}:
        status = PaymentStatus.REQUIRES_ACTION
        next_action = NextAction(type="approve", url=link(order, "payer-action", "approve"))
    elif status_name in {"APPROVED", "SAVED"}:
        status = PaymentStatus.REQUIRES_CONFIRMATION
    elif status_name == "VOIDED":
        status = PaymentStatus.CANCELED
    elif received > 0:
        status = PaymentStatus.SUCCEEDED
    elif any(c.get("status") == "PENDING" for c in caps):
        status = PaymentStatus.PROCESSING
    elif any(a.get("status") in {"CREATED", "PENDING", "PARTIALLY_CAPTURED"} for a in auths):
        status = PaymentStatus.REQUIRES_CAPTURE
        capturable = sum(
            minor_from_paypal(a["amount"])[0] for a in auths if a.get("status") == "CREATED"
        )
    elif auths and all(a.get("status") in {"VOIDED", "EXPIRED"} for a in auths):
        status = PaymentStatus.CANCELED
    else:
        status = PaymentStatus.FAILED
        failed = next(
            (c for c in caps + auths if c.get("status") in {"DECLINED", "FAILED", "DENIED"}), {}
        )
        decline_code = _decline(failed) or "declined"
    last = caps[-1] if caps else None
    return PaymentResult(
        id=str(order["id"]),
        gateway=gateway,
        status=status,
        amount=amount,
        amount_received=min(received, amount),
        amount_capturable=capturable,
        amount_refunded=min(refunded, received),
        currency=currency,
        payment_method=_vault_id(order),
        capture_method=CaptureMethod.MANUAL if manual else CaptureMethod.AUTOMATIC,
        charge_id=str(last["id"]) if last else None,
        next_action=next_action,
        decline_code=decline_code,
        failure_code="declined" if decline_code else None,
        balance_transaction=balance_from_capture(last, gateway) if last else None,
        created=parse_time(order.get("create_time")),
        metadata=_order_references(order),
    )


def references(obj: JsonObject) -> dict[str, str]:
    """The references echoed back by a purchase unit or capture: ``custom_id`` (our
    ``lms_*`` query string, parsed; anything else kept as ``custom_id``) and
    ``invoice_id``."""
    found: dict[str, str] = {}
    custom = obj.get("custom_id")
    if isinstance(custom, str) and custom:
        pairs = parse_qsl(custom) if "=" in custom else []
        if pairs and all(key.startswith("lms_") for key, _ in pairs):
            found.update(pairs)
        else:
            found["custom_id"] = custom
    invoice = obj.get("invoice_id")
    if isinstance(invoice, str) and invoice:
        found["invoice_id"] = invoice
    return found


def _order_references(order: JsonObject) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in [*_units(order), *captures(order), *authorizations(order)]:
        for key, value in references(item).items():
            found.setdefault(key, value)
    return found


def _vault_id(order: JsonObject) -> str | None:
    source = order.get("payment_source") or {}
    for kind in ("paypal", "card", "venmo"):
        vault = ((source.get(kind) or {}).get("attributes") or {}).get("vault") or {}
        if vault.get("id"):
            return str(vault["id"])
    return None


def refund_from_paypal(obj: JsonObject, gateway: str, payment_id: str) -> RefundResult:
    amount, currency = minor_from_paypal(obj.get("amount"))
    status = {
        "COMPLETED": RefundStatus.SUCCEEDED,
        "PENDING": RefundStatus.PENDING,
        "FAILED": RefundStatus.FAILED,
        "CANCELLED": RefundStatus.CANCELED,
    }.get(str(obj.get("status")), RefundStatus.PENDING)
    return RefundResult(
        id=str(obj["id"]),
        gateway=gateway,
        payment_id=payment_id,
        amount=amount,
        currency=currency,
        status=status,
        reason=obj.get("note_to_payer"),
        failure_reason=(obj.get("status_details") or {}).get("reason"),
        created=parse_time(obj.get("create_time")),
    )


def payment_token_from_paypal(obj: JsonObject, gateway: str) -> PaymentMethodDetails:
    """A Vault v3 payment token (PayPal wallet or card) as a saved payment method."""
    source = obj.get("payment_source") or {}
    customer = (obj.get("customer") or {}).get("id")
    if "card" in source:
        card = source["card"]
        year, _, month = str(card.get("expiry", "")).partition("-")
        return PaymentMethodDetails(
            token=str(obj["id"]),
            gateway=gateway,
            type="card",
            brand=str(card.get("brand", "")).lower() or None,
            last4=card.get("last_digits"),
            exp_month=int(month) if month.isdigit() else None,
            exp_year=int(year) if year.isdigit() else None,
            customer_id=customer,
        )
    wallet = source.get("paypal") or source.get("venmo") or {}
    return PaymentMethodDetails(
        token=str(obj["id"]),
        gateway=gateway,
        type="venmo" if "venmo" in source else "paypal",
        email=wallet.get("email_address"),
        fingerprint=wallet.get("payer_id"),
        customer_id=customer,
    )


# --- webhooks ----------------------------------------------------------------------------

_EVENT_TYPES: dict[str, WebhookEventType] = {
    "PAYMENT.CAPTURE.COMPLETED": WebhookEventType.PAYMENT_SUCCEEDED,
    "PAYMENT.CAPTURE.PENDING": WebhookEventType.PAYMENT_PROCESSING,
    "PAYMENT.CAPTURE.DENIED": WebhookEventType.PAYMENT_FAILED,
    "PAYMENT.CAPTURE.DECLINED": WebhookEventType.PAYMENT_FAILED,
    "PAYMENT.CAPTURE.REFUNDED": WebhookEventType.REFUND_SUCCEEDED,
    "PAYMENT.CAPTURE.REVERSED": WebhookEventType.DISPUTE_CREATED,
    "PAYMENT.AUTHORIZATION.CREATED": WebhookEventType.PAYMENT_REQUIRES_CAPTURE,
    "PAYMENT.AUTHORIZATION.VOIDED": WebhookEventType.PAYMENT_CANCELED,
    "CUSTOMER.DISPUTE.CREATED": WebhookEventType.DISPUTE_CREATED,
    "CUSTOMER.DISPUTE.RESOLVED": WebhookEventType.DISPUTE_CLOSED,
    "VAULT.PAYMENT-TOKEN.CREATED": WebhookEventType.PAYMENT_METHOD_ATTACHED,
    "VAULT.PAYMENT-TOKEN.DELETED": WebhookEventType.PAYMENT_METHOD_DETACHED,
}


def _related_order(resource: JsonObject) -> str | None:
    related = (resource.get("supplementary_data") or {}).get("related_ids") or {}
    order_id = related.get("order_id")
    return str(order_id) if order_id else None


def event_from_paypal(event: JsonObject, gateway: str) -> WebhookEvent:
    """A verified PayPal webhook as a normalized :class:`WebhookEvent`.

    ``payment_id`` is the order id when PayPal links it (``supplementary_data``); capture
    events always carry the capture id as ``object_id``.
    """
    provider_type = str(event.get("event_type", ""))
    resource: JsonObject = event.get("resource") or {}
    normalized = _EVENT_TYPES.get(provider_type, WebhookEventType.UNHANDLED)
    created = parse_time(event.get("create_time"))
    if created is None:
        raise ProviderInvalidRequestError("The PayPal event has no create_time.", provider=gateway)
    amount: int | None = None
    currency: str | None = None
    if isinstance(resource.get("amount"), Mapping) and "currency_code" in resource["amount"]:
        amount, currency = minor_from_paypal(resource["amount"])
    is_refund = event.get("resource_type") == "refund"
    return WebhookEvent(
        id=str(event["id"]),
        gateway=gateway,
        type=normalized,
        provider_type=provider_type,
        created=created,
        object_id=resource.get("id"),
        payment_id=_related_order(resource),
        refund_id=resource.get("id") if is_refund else None,
        payment_status=WEBHOOK_PAYMENT_STATUS.get(normalized),
        amount=amount,
        currency=currency,
        metadata=references(resource),
        raw=dict(event),
    )


__all__ = [
    "PAYPAL_ZERO_DECIMAL_CURRENCIES",
    "authorizations",
    "balance_from_capture",
    "captures",
    "event_from_paypal",
    "link",
    "minor_from_paypal",
    "parse_time",
    "payment_from_order",
    "payment_token_from_paypal",
    "paypal_amount",
    "references",
    "refund_from_paypal",
    "refunds",
]
