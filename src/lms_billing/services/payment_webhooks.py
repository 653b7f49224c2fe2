"""Inbound payment webhooks: verified, deduplicated, idempotent and safe out of order.

1. The gateway verifies the signature and normalizes the event (``parse_webhook``); a bad
   signature raises :class:`~lms_billing.errors.WebhookSignatureError` and stores nothing.
2. The event is recorded in the inbox, unique on ``(gateway, event id)``: a duplicate
   delivery finds it there (or loses the insert race) and changes nothing.
3. A payment event never marks anything paid by itself: when its status could move our
   payment forward (:func:`~lms_billing.domain.payment_rules.status_supersedes`), the
   payment is re-read from the gateway and that verified state is recorded. A late
   ``processing`` after ``succeeded`` is ignored.
4. An event may arrive for an attempt whose gateway answer never reached us (a timeout
   after the provider charged): it is found by the ``lms_payment_id`` the provider echoes
   back, and the provider's payment is *adopted* after re-reading it (our id, amount and
   currency must match). An event that cannot be matched to anything we can re-read is left
   unprocessed, so the provider's redelivery tries again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from lms_billing.domain.payment_records import Payment, Refund, WebhookInboxEntry
from lms_billing.domain.payment_rules import status_supersedes
from lms_billing.domain.payments import (
    WEBHOOK_PAYMENT_STATUS,
    PaymentStatus,
    RefundStatus,
    WebhookEvent,
    WebhookEventType,
)
from lms_billing.errors import AlreadyExistsError
from lms_billing.ids import new_id
from lms_billing.services._payment_support import event as billing_event
from lms_billing.services._payment_support import publish

if TYPE_CHECKING:
    from lms_billing.services.payments import PaymentService


class WebhookOutcome(BaseModel):
    """What handling one delivery did.

    ``action`` is ``duplicate`` (seen before: nothing changed), ``payment_synced`` (the
    payment was re-read from the gateway and recorded; also when a payment whose gateway
    answer was lost is adopted), ``stale`` (an out-of-order status older than ours),
    ``refund_updated``, ``payment_method_detached``, ``mismatch`` (the provider's payment
    does not match ours: nothing recorded), ``deferred`` (not processed; a redelivery
    retries) or ``ignored`` (an event type or object lms-billing does not track).
    """

    model_config = ConfigDict(frozen=True)

    gateway: str
    event_id: str
    type: str
    action: str
    payment_id: str | None = None

    @property
    def duplicate(self) -> bool:
        return self.action == "duplicate"


def _our_payment_id(event: WebhookEvent) -> str | None:
    """Our payment id as the provider echoes it (set on every payment we create), for
    events that arrive before the gateway's id was recorded: the normalized
    ``event.metadata``, else a Stripe-shaped ``data.object.metadata`` (plugins)."""
    ours = event.metadata.get("lms_payment_id")
    if ours:
        return ours
    obj: Any = event.raw.get("data", {}).get("object", {}) if event.raw else {}
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    if isinstance(metadata, dict) and isinstance(metadata.get("lms_payment_id"), str):
        return str(metadata["lms_payment_id"])
    return None


def handle_webhook(
    service: PaymentService, gateway: str, payload: bytes, headers: Mapping[str, str]
) -> WebhookOutcome:
    """Verify, deduplicate and process one delivery of ``gateway``'s webhook.

    :raises WebhookSignatureError: the signature is missing, wrong or too old.
    """
    parsed = service.gateway(gateway).parse_webhook(payload, dict(headers))
    ctx = service._ctx
    now = ctx.clock.now()
    outcome = WebhookOutcome(
        gateway=gateway, event_id=parsed.id, type=parsed.type.value, action="duplicate"
    )
    try:
        with ctx.storage.unit_of_work() as uow:
            entry = uow.webhook_events.get_by_event(gateway, parsed.id)
            if entry is not None and entry.processed_at is not None:
                return outcome
            if entry is None:
                entry = WebhookInboxEntry(
                    id=new_id("whe"),
                    gateway=gateway,
                    event_id=parsed.id,
                    type=parsed.type.value,
                    provider_type=parsed.provider_type,
                    payload_hash=hashlib.sha256(payload).hexdigest(),
                    received_at=now,
                )
                uow.webhook_events.add(entry)
                uow.commit()
    except AlreadyExistsError:
        return outcome  # a concurrent delivery of the same event claimed it
    # An entry received earlier but never marked processed (a crash) is processed again:
    # processing is idempotent.
    action, payment_id = _process(service, gateway, parsed)
    if action == "deferred":  # nothing we could act on yet: the redelivery tries again
        return outcome.model_copy(update={"action": action, "payment_id": payment_id})
    with ctx.storage.unit_of_work() as uow:
        current = uow.webhook_events.get(entry.id)
        uow.webhook_events.update(
            current.model_copy(update={"processed_at": ctx.clock.now(), "outcome": action})
        )
        uow.commit()
    return outcome.model_copy(update={"action": action, "payment_id": payment_id})


def _find_payment(service: PaymentService, gateway: str, event: WebhookEvent) -> Payment | None:
    with service._ctx.storage.unit_of_work() as uow:
        found = None
        if event.payment_id is not None:
            found = uow.payments.get_by_gateway_id(gateway, event.payment_id)
        ours = _our_payment_id(event)
        if found is None and ours is not None:
            found = uow.payments.get_or_none(ours)
        return found if found is not None and found.gateway == gateway else None


def _process(service: PaymentService, gateway: str, event: WebhookEvent) -> tuple[str, str | None]:
    if event.type in WEBHOOK_PAYMENT_STATUS:
        payment = _find_payment(service, gateway, event)
        if payment is None:
            return "ignored", None
        incoming = event.payment_status or WEBHOOK_PAYMENT_STATUS[event.type]
        settled = payment.status is PaymentStatus.SUCCEEDED and payment.receipt_id is not None
        if settled or not (
            incoming is payment.status
            or status_supersedes(
                payment.status,
                incoming,
                current_at=payment.gateway_updated_at,
                incoming_at=event.created,
            )
        ):
            return "stale", payment.id
        if payment.gateway_payment_id is None:
            # The gateway's answer to our create call never arrived (a timeout after the
            # provider charged): adopt the provider's payment this event names.
            if event.payment_id is None:
                return "deferred", payment.id
            adopted = service.adopt_payment(payment.id, event.payment_id)
            return ("payment_synced" if adopted is not None else "mismatch"), payment.id
        # Never trust the webhook's body for money: re-read the payment from the gateway.
        service.sync_payment(payment.id)
        return "payment_synced", payment.id
    if event.type in (WebhookEventType.REFUND_SUCCEEDED, WebhookEventType.REFUND_FAILED):
        return _refund_event(service, gateway, event)
    if event.type is WebhookEventType.PAYMENT_METHOD_DETACHED and event.object_id:
        with service._ctx.storage.unit_of_work() as uow:
            method = uow.payment_methods.get_by_token(gateway, event.object_id)
            if method is None or not method.active:
                return "ignored", None
            uow.payment_methods.update(
                method.model_copy(
                    update={
                        "active": False,
                        "is_default": False,
                        "detached_at": service._ctx.clock.now(),
                    }
                )
            )
            uow.commit()
        return "payment_method_detached", None
    return "ignored", None


def _refund_event(
    service: PaymentService, gateway: str, event: WebhookEvent
) -> tuple[str, str | None]:
    if event.refund_id is None:
        return "ignored", None
    with service._ctx.storage.unit_of_work() as uow:
        refund = uow.refunds.get_by_gateway_id(gateway, event.refund_id)
    if refund is None:
        return "ignored", None
    if event.type is WebhookEventType.REFUND_FAILED:
        # A refund can fail after it succeeded (Stripe: the card was closed meanwhile): the
        # money is back with the merchant, so its reservation is given back to the payment.
        if refund.status in (RefundStatus.FAILED, RefundStatus.CANCELED):
            return "stale", refund.payment_id
        service._release(refund, "refund failed at the gateway")
        _announce(service, "refund.failed", service.get_refund(refund.id))
        return "refund_updated", refund.payment_id
    if refund.status is not RefundStatus.PENDING:  # a late success after the outcome
        return "stale", refund.payment_id
    succeeded = service._update_refund(refund.id, status=RefundStatus.SUCCEEDED)
    _announce(service, "refund.succeeded", succeeded)
    return "refund_updated", refund.payment_id


def _announce(service: PaymentService, kind: str, refund: Refund) -> None:
    # The same events the direct refund path publishes, so listeners see every outcome once.
    publish(
        service._ctx,
        [
            billing_event(
                kind,
                service._ctx.clock.now(),
                refund.customer_id,
                object=refund.model_dump(mode="json"),
            )
        ],
    )


__all__ = ["WebhookOutcome", "handle_webhook"]
