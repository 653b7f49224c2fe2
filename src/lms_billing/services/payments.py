"""Paying invoices through gateways: charge, 3-D Secure, capture, refunds and webhooks.

Money moves in three steps, so no database transaction is ever open during a gateway call:

1. **Record the attempt** (one transaction): the caller's idempotency key claims a
   :class:`~lms_billing.domain.payment_records.Payment` row; fraud rules (the
   ``lms_billing_fraud_rules`` hook plus the defaults) decide first, and a block is recorded
   and raised as :class:`~lms_billing.errors.PaymentBlockedError`.
2. **Call the gateway** with an idempotency key derived from *our* payment id, so a retry
   after a timeout or crash never charges twice.
3. **Record the result** (second transaction). A success is **verified** with the gateway
   (``retrieve_payment`` + :func:`~lms_billing.domain.payment_rules.verify_payment`) before
   :meth:`InvoiceService.pay <lms_billing.services.invoicing.InvoiceService.pay>` marks the
   invoice paid and issues the receipt; settlement currency, FX rate and fee are recorded
   from the provider's balance transaction.

A decline is an outcome (the returned payment is ``failed`` with its ``decline_code``), a
required 3-D Secure step returns the payment with ``next_action`` for the caller.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any

from lms_billing.domain.card_data import reject_card_data
from lms_billing.domain.credit_notes import CreditNoteReason
from lms_billing.domain.events import Event
from lms_billing.domain.fraud import FraudOutcome
from lms_billing.domain.invoices import InvoiceStatus
from lms_billing.domain.payment_records import Payment, Refund
from lms_billing.domain.payments import (
    CaptureMethod,
    PaymentMethodDetails,
    PaymentStatus,
    RefundReason,
)
from lms_billing.errors import (
    AlreadyExistsError,
    ConflictError,
    IdempotencyKeyMismatchError,
    InvalidAmountError,
    InvalidStateTransitionError,
    PaymentBlockedError,
    ValidationError,
)
from lms_billing.ids import new_id
from lms_billing.services._context import ServiceContext, validating
from lms_billing.services._payment_pipeline import PaymentPipeline
from lms_billing.services._payment_support import (
    PaymentSettings,
    evaluate_fraud,
    event,
    fraud_record,
    is_blocking,
    payment_data,
    publish,
)
from lms_billing.services.dunning_collection import (
    CollectionRunResult,
    GatewayCollector,
    collect_due,
)
from lms_billing.services.idempotency import request_hash
from lms_billing.services.invoicing import InvoiceService
from lms_billing.services.payment_methods import DEFAULT_GATEWAY
from lms_billing.services.payment_webhooks import WebhookOutcome, handle_webhook
from lms_billing.storage.base import DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT


class PaymentService(PaymentPipeline):
    """Pay invoices, confirm after 3-D Secure, capture, refund, and take webhooks in.

    :param invoices: the invoice service that marks invoices paid and issues receipts and
        credit notes (the :class:`~lms_billing.Billing` facade passes its own).
    :param settings: fraud review policy, dunning policy and other knobs.
    """

    def __init__(
        self,
        ctx: ServiceContext,
        invoices: InvoiceService | None = None,
        settings: PaymentSettings | None = None,
    ) -> None:
        super().__init__(ctx, settings)
        self.invoices = invoices or InvoiceService(ctx)
        # Install on the subscription service (the Billing facade does) so renewal invoices
        # are noted for collect_due.
        self.collector = GatewayCollector()

    # --- reads -----------------------------------------------------------------------------

    def get(self, payment_id: str) -> Payment:
        with self._ctx.storage.unit_of_work() as uow:
            return uow.payments.get(payment_id)

    def list(
        self,
        *,
        invoice_id: str | None = None,
        customer_id: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[Payment]:
        """Payments, newest first (filter by invoice or customer)."""
        with self._ctx.storage.unit_of_work() as uow:
            return uow.payments.list(
                invoice_id=invoice_id,
                customer_id=customer_id,
                limit=limit,
                starting_after=starting_after,
            )

    # --- paying an invoice -----------------------------------------------------------------

    def pay_invoice(
        self,
        invoice_id: str,
        *,
        idempotency_key: str,
        gateway: str = DEFAULT_GATEWAY,
        payment_method: str | None = None,
        off_session: bool = False,
        capture_method: CaptureMethod | str = CaptureMethod.AUTOMATIC,
        return_url: str | None = None,
        ip_address: str | None = None,
        ip_country: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Payment:
        """Charge what is left on an open invoice through ``gateway``.

        ``payment_method`` is a gateway token (a saved one or a fresh ``pm_...``); without it
        the customer's default saved method is used, or none (PayPal's approval flow).

        :returns: the payment: ``succeeded`` (invoice paid, ``receipt_id`` set), ``failed``
            (``decline_code``), ``requires_action`` (show ``next_action``, then call
            :meth:`confirm_payment`) or ``requires_capture`` (call :meth:`capture`).
        :raises PaymentBlockedError: fraud rules blocked the attempt (recorded with reasons).
        :raises CardDataRejectedError: anything that looks like a card number.
        :raises IdempotencyKeyMismatchError: the key was used for a different request.
        :raises ConflictError: another payment already collects this invoice.
        """
        reject_card_data(payment_method, field="payment_method")
        reject_card_data(dict(metadata or {}), field="metadata")
        with validating("payment"):
            capture = CaptureMethod(capture_method)
        self._gateway(gateway)  # unknown gateway: NotFoundError before anything is stored
        request = {
            "invoice_id": invoice_id,
            "gateway": gateway,
            "payment_method": payment_method,
            "off_session": off_session,
            "capture_method": capture.value,
            "return_url": return_url,
            "metadata": dict(metadata or {}),
        }
        digest = request_hash(request)
        card = self.inspect_payment_method(gateway, payment_method, idempotency_key=idempotency_key)
        start = partial(
            self._start,
            invoice_id,
            idempotency_key,
            digest,
            gateway,
            payment_method,
            card,
            off_session,
            capture,
            return_url,
            ip_address,
            ip_country,
            dict(metadata or {}),
        )
        try:
            payment = start()
        except AlreadyExistsError:
            # A concurrent call recorded its attempt first (same key, or another attempt on
            # this invoice): run again to replay it or to report the conflict.
            payment = start()
        return self._drive(payment)

    def _start(
        self,
        invoice_id: str,
        key: str,
        digest: str,
        gateway: str,
        payment_method: str | None,
        card: PaymentMethodDetails | None,
        off_session: bool,
        capture: CaptureMethod,
        return_url: str | None,
        ip_address: str | None,
        ip_country: str | None,
        metadata: dict[str, str],
    ) -> Payment:
        """Transaction 1: find the attempt for this key, or evaluate fraud and record one."""
        events: list[Event] = []
        now = self._ctx.clock.now()
        with self._ctx.storage.unit_of_work() as uow:
            existing = uow.payments.get_by_idempotency_key(key)
            if existing is not None:
                if existing.request_hash != digest:
                    raise IdempotencyKeyMismatchError(key=key)
                if existing.blocked:
                    raise self._blocked_error(existing)
                return existing
            invoice = uow.invoices.get(invoice_id)
            if (
                invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)
                or invoice.amount_remaining == 0
            ):
                raise InvalidStateTransitionError(
                    f"Invoice {invoice.id} is {invoice.status.value}; nothing to pay.",
                    invoice_id=invoice.id,
                    status=invoice.status.value,
                )
            earlier = uow.payments.list(invoice_id=invoice.id, limit=MAX_LIST_LIMIT)
            for other in earlier:
                # A second charge while one may still take the money would pay twice (the
                # storage's unique collection slot enforces it under races too). A success
                # not settled yet still takes its money; a settled one (a partial capture)
                # already counts in amount_paid, so the rest may be collected.
                if other.collecting or (
                    other.status is PaymentStatus.SUCCEEDED and other.receipt_id is None
                ):
                    raise ConflictError(
                        f"Payment {other.id} already collects invoice {invoice.id} "
                        f"({other.status.value}); replay its idempotency key to resume it.",
                        payment_id=other.id,
                        status=other.status.value,
                    )
            customer = uow.customers.get(invoice.customer_id)
            method = None
            if payment_method is None:
                defaults = [
                    m
                    for m in uow.payment_methods.list(customer_id=customer.id, limit=MAX_LIST_LIMIT)
                    if m.is_default and m.gateway == gateway
                ]
                method = defaults[0] if defaults else None
                payment_method = None if method is None else method.token
            else:
                method = uow.payment_methods.get_by_token(gateway, payment_method)
                if method is not None and (method.customer_id != customer.id or not method.active):
                    raise ValidationError(
                        "The payment method is not an active method of this customer.",
                        payment_method=method.id,
                    )
            link = uow.gateway_customers.get_for(customer.id, gateway)
            amount = invoice.amount_remaining
            verdict = evaluate_fraud(
                self._ctx,
                self.settings,
                uow,
                now=now,
                amount=amount,
                currency=invoice.currency,
                customer=customer,
                method=method,
                card=None if method is not None else card,
                payment_method=payment_method,
                ip_address=ip_address,
                ip_country=ip_country,
            )
            blocked = is_blocking(verdict, self.settings)
            payment = Payment(
                id=new_id("pay"),
                invoice_id=invoice.id,
                customer_id=customer.id,
                gateway=gateway,
                gateway_customer_id=None if link is None else link.gateway_customer_id,
                payment_method=payment_method,
                payment_method_type=None if method is None else method.type,
                idempotency_key=key,
                request_hash=digest,
                status=PaymentStatus.FAILED if blocked else PaymentStatus.REQUIRES_CONFIRMATION,
                amount=amount,
                currency=invoice.currency,
                collects_from=invoice.amount_paid,
                capture_method=capture,
                off_session=off_session,
                return_url=return_url,
                attempt=len(earlier) + 1,
                blocked=blocked,
                failure_code="blocked_by_fraud_rules" if blocked else None,
                fraud=fraud_record(verdict),
                ip_address=ip_address,
                card_fingerprint=method.fingerprint
                if method is not None
                else card and card.fingerprint,
                created_at=now,
                updated_at=now,
                metadata=metadata,
            )
            uow.payments.add(payment)
            uow.commit()
        if blocked:
            events.append(
                event("payment.blocked", now, payment.customer_id, **payment_data(payment))
            )
        elif verdict.outcome is FraudOutcome.REVIEW:
            events.append(
                event("payment.review", now, payment.customer_id, **payment_data(payment))
            )
        publish(self._ctx, events)
        if blocked:
            raise self._blocked_error(payment)
        return payment

    @staticmethod
    def _blocked_error(payment: Payment) -> PaymentBlockedError:
        return PaymentBlockedError(
            payment_id=payment.id,
            reasons=[reason.code for reason in payment.fraud.reasons],
            rules=[reason.rule for reason in payment.fraud.reasons],
        )

    # --- after the customer acted, manual capture, cancel ------------------------------------

    def confirm_payment(self, payment_id: str, *, idempotency_key: str) -> Payment:
        """Continue a payment after the customer completed 3-D Secure (or approved it at
        PayPal): re-read it from the gateway, confirm it there when it waits for
        confirmation, record the result and, on success, verify and mark the invoice paid.
        Safe to call again (it only syncs). A ``failed`` attempt is final here: pay again
        (a new idempotency key) with another payment method."""
        payment = self.get(payment_id)
        if payment.gateway_payment_id is None or payment.status in (
            PaymentStatus.SUCCEEDED,
            PaymentStatus.CANCELED,
            PaymentStatus.FAILED,
        ):
            return self._drive(payment)
        gateway = self._gateway(payment.gateway)
        fresh = gateway.retrieve_payment(payment.gateway_payment_id)
        if fresh.status is PaymentStatus.REQUIRES_CONFIRMATION:
            fresh = gateway.confirm_payment(
                payment.gateway_payment_id,
                idempotency_key=f"{payment.id}:confirm:{idempotency_key}",
            )
        return self._drive(self._record(payment.id, fresh))

    def sync_payment(self, payment_id: str) -> Payment:
        """Re-read a payment from its gateway and record what changed (webhooks use it)."""
        payment = self.get(payment_id)
        if payment.gateway_payment_id is None:
            return payment
        fresh = self._gateway(payment.gateway).retrieve_payment(payment.gateway_payment_id)
        return self._drive(self._record(payment.id, fresh))

    def adopt_payment(self, payment_id: str, gateway_payment_id: str) -> Payment | None:
        """Attach the provider's payment to an attempt whose create call got no answer
        (a timeout after the provider charged), then record and settle it.

        The provider's payment is re-read and adopted only if it is ours: the
        ``lms_payment_id`` it echoes (when it echoes one) is ``payment_id``, and amount and
        currency match the attempt. Returns ``None`` (nothing recorded) otherwise. An
        attempt that already has a gateway payment is only synced.
        """
        payment = self.get(payment_id)
        if payment.gateway_payment_id is not None:
            return self.sync_payment(payment_id)
        fresh = self._gateway(payment.gateway).retrieve_payment(gateway_payment_id)
        echoed = fresh.metadata.get("lms_payment_id")
        if (
            (echoed is not None and echoed != payment.id)
            or fresh.amount != payment.amount
            or fresh.currency != payment.currency
            or fresh.gateway != payment.gateway
        ):
            return None
        return self._drive(self._record(payment.id, fresh))

    def capture(
        self, payment_id: str, amount: int | None = None, *, idempotency_key: str
    ) -> Payment:
        """Capture an authorized (``requires_capture``) payment, fully or partly.

        :raises InvalidStateTransitionError: the payment is not waiting for capture.
        :raises InvalidAmountError: ``amount`` is not within the authorized amount.
        """
        payment = self.get(payment_id)
        if (
            payment.status is not PaymentStatus.REQUIRES_CAPTURE
            or payment.gateway_payment_id is None
        ):
            raise InvalidStateTransitionError(
                f"Payment {payment.id} is {payment.status.value}, not requires_capture.",
                payment_id=payment.id,
            )
        if amount is not None:
            if isinstance(amount, bool) or not 0 < amount <= payment.amount:
                raise InvalidAmountError(
                    f"Capture between 1 and {payment.amount} {payment.currency}.", amount=amount
                )
            with self._ctx.storage.unit_of_work() as uow:
                current = uow.payments.get(payment_id)
                uow.payments.update(current.model_copy(update={"amount_to_capture": amount}))
                uow.commit()
        result = self._gateway(payment.gateway).capture_payment(
            payment.gateway_payment_id,
            amount,
            idempotency_key=f"{payment.id}:capture:{idempotency_key}",
        )
        return self._drive(self._record(payment.id, result))

    def cancel(self, payment_id: str, *, idempotency_key: str) -> Payment:
        """Cancel a payment that has not succeeded (releases an authorization)."""
        payment = self.get(payment_id)
        if payment.gateway_payment_id is None:
            raise InvalidStateTransitionError(
                f"Payment {payment.id} never reached the gateway.", payment_id=payment.id
            )
        result = self._gateway(payment.gateway).cancel_payment(
            payment.gateway_payment_id, idempotency_key=f"{payment.id}:cancel:{idempotency_key}"
        )
        return self._record(payment.id, result)

    # --- refunds ---------------------------------------------------------------------------

    def refund(
        self,
        payment_id: str,
        amount: int | None = None,
        *,
        idempotency_key: str,
        credit_note_id: str | None = None,
        reason: RefundReason | str | None = None,
    ) -> Refund:
        """Refund all (``amount=None``) or part of a succeeded payment, never more than was
        paid minus earlier refunds, documented by a credit note.

        Without ``credit_note_id`` a credit note for ``amount`` (tax included) is created
        on the invoice with the whole amount as ``refund_amount``; with it, the given note
        must belong to the payment's invoice and cover the refund.

        :raises InvalidAmountError: more than is refundable, or nothing is left.
        :raises IdempotencyKeyMismatchError: the key was used for a different refund.
        """
        reject_card_data(idempotency_key, field="idempotency_key")
        with validating("refund"):
            why = None if reason is None else RefundReason(reason)
        if amount is not None and (isinstance(amount, bool) or amount <= 0):
            raise InvalidAmountError("A refund amount must be positive.", amount=amount)
        request: dict[str, Any] = {
            "payment_id": payment_id,
            "amount": amount,
            "credit_note_id": credit_note_id,
            "reason": None if why is None else why.value,
        }
        digest = request_hash(request)
        refund = self._reserve_refund(
            payment_id, amount, idempotency_key, digest, credit_note_id, why
        )
        note_reason = (
            CreditNoteReason(why.value)
            if why is not None and why.value in CreditNoteReason.__members__.values()
            else None
        )
        return self._finish_refund(refund, note_reason)

    def get_refund(self, refund_id: str) -> Refund:
        with self._ctx.storage.unit_of_work() as uow:
            return uow.refunds.get(refund_id)

    def list_refunds(self, payment_id: str) -> builtins.list[Refund]:
        with self._ctx.storage.unit_of_work() as uow:
            return uow.refunds.list(payment_id=payment_id, limit=MAX_LIST_LIMIT)

    # --- webhooks and dunning --------------------------------------------------------------

    def handle_webhook(
        self, gateway: str, payload: bytes, headers: Mapping[str, str]
    ) -> WebhookOutcome:
        """Verify, deduplicate and process one inbound webhook delivery (pass the raw body
        and the request headers); see :mod:`lms_billing.services.payment_webhooks`.

        :raises WebhookSignatureError: the signature is missing, wrong or too old.
        """
        return handle_webhook(self, gateway, payload, headers)

    def collect_due(self, at: datetime | None = None) -> CollectionRunResult:
        """Charge subscription invoices awaiting collection and the dunning retries due at
        ``at`` (default now); see :mod:`lms_billing.services.dunning_collection`."""
        return collect_due(self, at)


__all__ = ["PaymentService", "PaymentSettings", "WebhookOutcome"]
