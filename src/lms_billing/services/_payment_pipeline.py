"""The steps of one payment attempt after it was recorded: the gateway call (outside any
transaction, with a key derived from our payment id), recording the provider's report
(moving forward only), and settling a success (verify with the gateway, then mark the
invoice paid and issue the receipt). Private to :mod:`lms_billing.services.payments`."""

from __future__ import annotations

from datetime import datetime

from lms_billing.domain.events import Event
from lms_billing.domain.fraud import FraudOutcome, FraudVerdict
from lms_billing.domain.payment_records import Payment, payment_due_key
from lms_billing.domain.payment_rules import verify_payment
from lms_billing.domain.payments import PaymentRequest, PaymentResult, PaymentStatus
from lms_billing.errors import AuthenticationRequiredError, PaymentError, ProviderError
from lms_billing.services._payment_support import (
    apply_result,
    event,
    is_blocking,
    judge_provider_risk,
    payment_data,
    publish,
    reference_metadata,
    settlement_from,
    status_event,
)
from lms_billing.services.dunning_collection import on_invoice_paid
from lms_billing.services.payment_refunds import RefundFlow
from lms_billing.storage.base import UnitOfWork


class PaymentPipeline(RefundFlow):
    """Drives an attempt from wherever it stopped (base of the payment service)."""

    def _drive(self, payment: Payment) -> Payment:
        """Steps 2 and 3 for an attempt wherever it stopped (a replay resumes it)."""
        if (
            payment.gateway_payment_id is None
            and not payment.blocked
            and payment.status is PaymentStatus.REQUIRES_CONFIRMATION
        ):
            payment = self._send(payment)
        if payment.status is PaymentStatus.SUCCEEDED and payment.receipt_id is None:
            payment = self._settle(payment.id)
        return payment

    def _send(self, payment: Payment) -> Payment:
        """Step 2: create the payment at the gateway and record its first report."""
        request = PaymentRequest(
            amount=payment.amount,
            currency=payment.currency,
            idempotency_key=payment_due_key(payment),
            customer_id=payment.gateway_customer_id,
            payment_method=payment.payment_method,
            payment_method_type=payment.payment_method_type,
            off_session=payment.off_session,
            capture_method=payment.capture_method,
            return_url=payment.return_url,
            # The caller's metadata, then our references (which a caller cannot override):
            # early webhooks and reconciliation find the payment by them.
            metadata={
                **payment.metadata,
                **reference_metadata(lms_payment_id=payment.id, lms_invoice_id=payment.invoice_id),
            },
        )
        try:
            result = self._gateway(payment.gateway).create_payment(request)
        except PaymentError as exc:
            # The port returns declines as outcomes; a gateway that raises one anyway still
            # ends the attempt as a decline, so the invoice is free for the next attempt.
            decline = getattr(exc, "decline_code", None) or (
                "authentication_required"
                if isinstance(exc, AuthenticationRequiredError)
                else exc.code
            )
            return self._fail_locally(payment.id, "card_declined", exc.message, decline)
        except ProviderError as exc:
            if not exc.retryable:
                # A request the provider will never accept: record why, so the attempt ends.
                self._fail_locally(payment.id, exc.provider_code or exc.code, exc.message)
            # Retryable (timeouts): the attempt stays unsent; replaying the same
            # idempotency key resumes it with the same gateway key, charging at most once.
            raise
        return self._record(payment.id, result)

    def _fail_locally(
        self, payment_id: str, code: str, message: str, decline_code: str | None = None
    ) -> Payment:
        """End an attempt that got no payment object from the gateway as ``failed``."""
        now = self._ctx.clock.now()
        with self._ctx.storage.unit_of_work() as uow:
            current = uow.payments.get(payment_id)
            failed = current.model_copy(
                update={
                    "status": PaymentStatus.FAILED,
                    "decline_code": decline_code,
                    "failure_code": code,
                    "failure_message": message[:500],
                    "updated_at": now,
                }
            )
            uow.payments.update(failed)
            uow.commit()
        publish(self._ctx, self._status_events(current, failed, now))
        return failed

    def _record(self, payment_id: str, result: PaymentResult) -> Payment:
        """Transaction: apply a gateway report to our payment (never moving backwards).

        The provider's risk verdict (Radar) is judged as soon as it is reported: ``review``
        is recorded and announced (``payment.review``); ``block`` is recorded and announced
        (``payment.blocked``), and an authorization it blocks is canceled before anyone
        captures it.
        """
        now = self._ctx.clock.now()
        with self._ctx.storage.unit_of_work() as uow:
            current = uow.payments.get(payment_id)
            updated, raised = judge_provider_risk(
                self.settings, apply_result(current, result, now), now
            )
            uow.payments.update(updated)
            if updated.status is not current.status and not updated.collecting:
                _wake_collection(uow, updated, now)
            uow.commit()
        events = self._status_events(current, updated, now)
        if raised is not None:
            kind = "payment.blocked" if raised is FraudOutcome.BLOCK else "payment.review"
            events.append(event(kind, now, updated.customer_id, **payment_data(updated)))
        publish(self._ctx, events)
        if (
            raised is not None
            and updated.status is PaymentStatus.REQUIRES_CAPTURE
            and updated.gateway_payment_id is not None
            and is_blocking(FraudVerdict(outcome=raised), self.settings)
        ):
            # Never capture money the provider's risk check blocked: release the hold.
            released = self._gateway(updated.gateway).cancel_payment(
                updated.gateway_payment_id, idempotency_key=f"{updated.id}:fraud-cancel"
            )
            return self._record(updated.id, released)
        return updated

    def _status_events(self, before: Payment, after: Payment, now: datetime) -> list[Event]:
        """The events announcing a payment's status change (none when it did not change)."""
        events: list[Event] = []
        if after.status is before.status:
            return events
        kind = status_event(after)
        if kind is not None:
            events.append(event(kind, now, after.customer_id, **payment_data(after)))
        # Off-session attempts are collection's: dunning emits the invoice events there,
        # with the attempt number and the next retry.
        if after.off_session:
            return events
        if after.status is PaymentStatus.FAILED:
            events.append(self._invoice_event("invoice.payment_failed", after))
        elif after.status is PaymentStatus.REQUIRES_ACTION:
            events.append(self._invoice_event("invoice.payment_action_required", after))
        return events

    def _invoice_event(self, kind: str, payment: Payment) -> Event:
        return event(
            kind,
            self._ctx.clock.now(),
            payment.customer_id,
            invoice_id=payment.invoice_id,
            payment_id=payment.id,
            decline_code=payment.decline_code,
            next_action=None if payment.next_action is None else payment.next_action.model_dump(),
        )

    def _settle(self, payment_id: str) -> Payment:
        """Verify a succeeded payment with the gateway, then mark the invoice paid."""
        with self._ctx.storage.unit_of_work() as uow:
            payment = uow.payments.get(payment_id)
        if (
            payment.receipt_id is not None
            or payment.status is not PaymentStatus.SUCCEEDED
            or payment.gateway_payment_id is None
        ):
            return payment
        fresh = self._gateway(payment.gateway).retrieve_payment(payment.gateway_payment_id)
        expected = payment.amount_to_capture or payment.amount
        verify_payment(fresh, amount=expected, currency=payment.currency, gateway=payment.gateway)
        paid = self.invoices.pay(
            payment.invoice_id,
            fresh.amount_received,
            payment_reference=payment.gateway_payment_id,
            idempotency_key=f"{payment.id}:invoice-payment",
            payment_method=self._method_label(payment),
            paid_out_of_band=False,
        )
        now = self._ctx.clock.now()
        with self._ctx.storage.unit_of_work() as uow:
            current = uow.payments.get(payment_id)
            settled = current.model_copy(
                update={
                    "verified": True,
                    "receipt_id": paid.receipt.id,
                    "amount_received": fresh.amount_received,
                    "settlement": current.settlement or settlement_from(fresh.balance_transaction),
                    "updated_at": now,
                }
            )
            uow.payments.update(settled)
            events = on_invoice_paid(uow, paid.invoice, now)
            uow.commit()
        publish(self._ctx, events)
        return settled

    def _method_label(self, payment: Payment) -> str | None:
        """What the receipt shows, e.g. ``Visa •••• 4242`` (never more than the last 4)."""
        if payment.payment_method is None:
            return None
        with self._ctx.storage.unit_of_work() as uow:
            method = uow.payment_methods.get_by_token(payment.gateway, payment.payment_method)
        if method is None or method.brand is None or method.last4 is None:
            return payment.gateway
        return f"{method.brand.title()} \u2022\u2022\u2022\u2022 {method.last4}"


def _wake_collection(uow: UnitOfWork, payment: Payment, now: datetime) -> None:
    """A renewal attempt collection was waiting on has ended (its webhook said so): make
    the invoice due now, so the next ``collect_due`` pass judges it without waiting."""
    state = uow.dunning.get_or_none(payment.invoice_id)
    if state is not None and state.pending_payment_id == payment.id:
        uow.dunning.update(state.model_copy(update={"next_retry_at": now, "updated_at": now}))


__all__ = ["PaymentPipeline"]
