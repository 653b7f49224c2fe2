"""Refunds: full or partial, idempotent, never above what was paid, with a credit note.

A refund reserves its amount on the payment first (one transaction, optimistic version
check, so two concurrent refunds cannot both pass the limit), then makes sure a credit note
documents it, then asks the gateway (idempotency key derived from our refund id) and records
the result. A refund the gateway rejects releases its reservation.
"""

from __future__ import annotations

from lms_billing.domain.credit_notes import CreditNoteReason
from lms_billing.domain.payment_records import Payment, Refund
from lms_billing.domain.payments import (
    PaymentStatus,
    RefundReason,
    RefundRequest,
    RefundResult,
    RefundStatus,
)
from lms_billing.errors import (
    AlreadyExistsError,
    BillingError,
    IdempotencyKeyMismatchError,
    InvalidAmountError,
    InvalidStateTransitionError,
    ProviderError,
    ValidationError,
)
from lms_billing.ids import new_id
from lms_billing.services._payment_support import (
    event,
    publish,
    reference_metadata,
    settlement_from,
)
from lms_billing.services.invoicing import InvoiceService
from lms_billing.services.payment_methods import PaymentMethodService
from lms_billing.storage.base import MAX_LIST_LIMIT, UnitOfWork

_SETTLED = frozenset({"succeeded", "pending", "requires_action"})  # refunds that hold money


class RefundFlow(PaymentMethodService):
    """The refund steps of :class:`~lms_billing.services.payments.PaymentService`."""

    invoices: InvoiceService

    def _reserve_refund(
        self,
        payment_id: str,
        amount: int | None,
        key: str,
        digest: str,
        credit_note_id: str | None,
        reason: RefundReason | None,
    ) -> Refund:
        now = self._ctx.clock.now()
        try:
            with self._ctx.storage.unit_of_work() as uow:
                existing = uow.refunds.get_by_idempotency_key(key)
                if existing is not None:
                    if existing.request_hash != digest:
                        raise IdempotencyKeyMismatchError(key=key)
                    return existing
                payment = uow.payments.get(payment_id)
                if payment.status is not PaymentStatus.SUCCEEDED:
                    raise InvalidStateTransitionError(
                        f"Payment {payment.id} is {payment.status.value}; only succeeded "
                        "payments can be refunded.",
                        payment_id=payment.id,
                    )
                remaining = payment.refundable_amount
                wanted = remaining if amount is None else amount
                if wanted <= 0 or wanted > remaining:
                    raise InvalidAmountError(
                        f"Cannot refund {wanted} {payment.currency}: {remaining} is refundable.",
                        payment_id=payment.id,
                        requested=wanted,
                        refundable=remaining,
                    )
                if credit_note_id is not None:
                    self._check_note(uow, payment, credit_note_id, wanted)
                refund = Refund(
                    id=new_id("rf"),
                    payment_id=payment.id,
                    invoice_id=payment.invoice_id,
                    customer_id=payment.customer_id,
                    gateway=payment.gateway,
                    credit_note_id=credit_note_id,
                    idempotency_key=key,
                    request_hash=digest,
                    amount=wanted,
                    currency=payment.currency,
                    reason=None if reason is None else reason.value,
                    created_at=now,
                    updated_at=now,
                )
                # The reservation: refundable_amount drops now, so a second refund sees it.
                uow.payments.update(
                    payment.model_copy(update={"amount_refunded": payment.amount_refunded + wanted})
                )
                uow.refunds.add(refund)
                uow.commit()
        except AlreadyExistsError:
            with self._ctx.storage.unit_of_work() as uow:  # a racing replay won
                existing = uow.refunds.get_by_idempotency_key(key)
            if existing is None or existing.request_hash != digest:
                raise
            return existing
        return refund

    @staticmethod
    def _check_note(uow: UnitOfWork, payment: Payment, credit_note_id: str, wanted: int) -> None:
        note = uow.credit_notes.get(credit_note_id)
        if note.invoice_id != payment.invoice_id:
            raise ValidationError(
                f"Credit note {note.id} is for another invoice.", credit_note_id=note.id
            )
        linked = sum(
            r.amount
            for r in uow.refunds.list(payment_id=payment.id, limit=MAX_LIST_LIMIT)
            if r.credit_note_id == note.id and r.status.value in _SETTLED
        )
        if linked + wanted > note.refund_amount:
            raise InvalidAmountError(
                f"Credit note {note.id} documents a refund of {note.refund_amount}; "
                f"{linked} is already refunded against it.",
                credit_note_id=note.id,
                requested=wanted,
            )

    def _finish_refund(self, refund: Refund, note_reason: CreditNoteReason | None) -> Refund:
        if refund.gateway_refund_id is not None or refund.status is not RefundStatus.PENDING:
            return refund
        with self._ctx.storage.unit_of_work() as uow:
            payment = uow.payments.get(refund.payment_id)
        if refund.credit_note_id is None:
            try:
                note = self.invoices.create_credit_note(
                    refund.invoice_id,
                    idempotency_key=f"{refund.id}:credit-note",
                    amount=refund.amount,
                    refund_amount=refund.amount,
                    reason=note_reason,
                    memo=f"Refund {refund.id} of payment {payment.id}",
                )
            except BillingError as exc:
                self._release(refund, f"credit note: {exc.code}")
                raise
            refund = self._update_refund(refund.id, credit_note_id=note.id)
        try:
            result = self._refund_at_gateway(refund, payment)
        except ProviderError as exc:
            if not exc.retryable:
                self._release(refund, exc.provider_code or exc.code)
            raise
        return self._record_refund(refund.id, result)

    def _refund_at_gateway(self, refund: Refund, payment: Payment) -> RefundResult:
        if payment.gateway_payment_id is None:  # pragma: no cover - succeeded payments have one
            raise InvalidStateTransitionError("The payment never reached the gateway.")
        return self._gateway(payment.gateway).refund(
            RefundRequest(
                payment_id=payment.gateway_payment_id,
                idempotency_key=f"{refund.id}:refund",
                amount=refund.amount,
                currency=refund.currency,
                reason=None if refund.reason is None else RefundReason(refund.reason),
                metadata=reference_metadata(lms_refund_id=refund.id, lms_payment_id=payment.id),
            )
        )

    def _update_refund(self, refund_id: str, **changes: object) -> Refund:
        with self._ctx.storage.unit_of_work() as uow:
            current = uow.refunds.get(refund_id)
            updated = current.model_copy(update={**changes, "updated_at": self._ctx.clock.now()})
            uow.refunds.update(updated)
            uow.commit()
        return updated

    def _release(self, refund: Refund, why: str) -> None:
        """The refund failed for good: give its reservation back to the payment."""
        with self._ctx.storage.unit_of_work() as uow:
            current = uow.refunds.get(refund.id)
            if current.status in (RefundStatus.FAILED, RefundStatus.CANCELED):
                return
            uow.refunds.update(
                current.model_copy(
                    update={
                        "status": RefundStatus.FAILED,
                        "failure_reason": why,
                        "updated_at": self._ctx.clock.now(),
                    }
                )
            )
            payment = uow.payments.get(current.payment_id)
            uow.payments.update(
                payment.model_copy(
                    update={"amount_refunded": max(0, payment.amount_refunded - current.amount)}
                )
            )
            uow.commit()

    def _record_refund(self, refund_id: str, result: RefundResult) -> Refund:
        """Record the gateway's refund report (first report or a webhook's update)."""
        now = self._ctx.clock.now()
        if result.status in (RefundStatus.FAILED, RefundStatus.CANCELED):
            with self._ctx.storage.unit_of_work() as uow:
                current = uow.refunds.get(refund_id)
            self._release(current, result.failure_reason or result.status.value)
            refund = self._update_refund(refund_id, gateway_refund_id=result.id)
            kind = "refund.failed"
        else:
            refund = self._update_refund(
                refund_id,
                gateway_refund_id=result.id,
                status=result.status,
                settlement=settlement_from(result.balance_transaction),
            )
            kind = (
                "refund.succeeded" if result.status is RefundStatus.SUCCEEDED else "refund.updated"
            )
        publish(
            self._ctx, [event(kind, now, refund.customer_id, object=refund.model_dump(mode="json"))]
        )
        return refund


__all__ = ["RefundFlow"]
