"""Invoice use cases: drafts, lines, coupons, finalization, payments, voids, credit notes,
and rendering, each one transaction through the storage port.

Every mutating call takes an ``idempotency_key``: the claim, the writes (invoice, lines,
redemptions, numbering counter, balance ledger, receipt or credit note) and the stored result
commit together, and a replay returns the first result. Any error rolls all of it back, so
bad input leaves stored state as it was, and a number drawn by a failed finalization is
returned to its series.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import moneyed

from lms_billing.domain.credit_notes import (
    CreditLineRequest,
    CreditNote,
    CreditNoteReason,
    CreditNoteRequest,
    issue_credit_note,
)
from lms_billing.domain.invoices import (
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Period,
    add_line,
    can_transition,
    delete_draft,
    finalize,
    mark_paid,
    mark_uncollectible,
    remove_line,
    require_draft,
    void,
)
from lms_billing.domain.pricing import price_quote
from lms_billing.domain.receipts import receipt_for_invoice_payment
from lms_billing.domain.tax import LocationEvidence
from lms_billing.errors import (
    CurrencyMismatchError,
    InvalidStateTransitionError,
)
from lms_billing.ids import new_id
from lms_billing.money import to_minor_units
from lms_billing.ports import TaxEngine
from lms_billing.services._context import PendingEvents, ServiceContext, validating
from lms_billing.services._invoice_editing import (
    InvoiceEditing,
    recheck_coupons,
    record_removals,
)
from lms_billing.services._invoicing_support import (
    InvoicePayment,
    apply_tax,
    next_number,
    price_line,
    record_balance,
    snapshot_customer,
    store_credit_note,
    tax_engine,
)
from lms_billing.services.fx import find_rate
from lms_billing.storage.base import MAX_LIST_LIMIT, UnitOfWork


class InvoiceService(InvoiceEditing):
    """Invoices from draft to paid, void or uncollectible; credit notes and receipts."""

    def __init__(self, ctx: ServiceContext) -> None:
        super().__init__(ctx)
        self._engine: TaxEngine | None = None

    def _now(self) -> datetime:
        return self._ctx.clock.now()

    @property
    def tax_engine(self) -> TaxEngine:
        """The configured engine chain (``settings.tax_engines``), built on first use."""
        if self._engine is None:
            self._engine = tax_engine(self._ctx.plugins.tax_engines(), self._ctx.settings)
        return self._engine

    # --- drafts ---------------------------------------------------------------------------

    def create_draft(
        self,
        customer_id: str,
        currency: str,
        *,
        idempotency_key: str,
        subscription_id: str | None = None,
        description: str | None = None,
        footer: str | None = None,
        due_date: datetime | None = None,
        billing_reason: str = "manual",
        metadata: Mapping[str, str] | None = None,
    ) -> Invoice:
        """Open a draft invoice for a customer in ``currency``.

        :raises NotFoundError: no such customer.
        :raises UnknownCurrencyError: ``currency`` is not ISO 4217.
        """
        settings = self._ctx.settings
        with validating("invoice"):
            draft = Invoice(
                id=new_id("in"),
                customer_id=customer_id,
                currency=currency,
                discount_order=settings.discount_order,
                rounding=settings.rounding,
                subscription_id=subscription_id,
                billing_reason=billing_reason,
                description=description,
                footer=footer,
                created_at=self._ctx.clock.now(),
                due_date=due_date,
                metadata=dict(metadata or {}),
            )
        request = draft.model_dump(mode="json", exclude={"id", "created_at"})

        def execute(uow: UnitOfWork, events: PendingEvents) -> Invoice:
            invoice = snapshot_customer(draft, uow.customers.get(customer_id))
            uow.invoices.add(invoice)
            events.record("invoice.created", invoice, customer_id=customer_id)
            return invoice

        return self._run("invoices.create", idempotency_key, request, execute, Invoice)

    def add_price_line(
        self,
        invoice_id: str,
        price_id: str,
        quantity: int = 1,
        *,
        idempotency_key: str,
        period: Period | Mapping[str, Any] | None = None,
        description: str | None = None,
    ) -> Invoice:
        """Add ``quantity`` of a catalog price, priced in the invoice's currency (explicit
        per-currency amounts first, else converted with a rate from the FX sources).

        The price's scheme decides what ``quantity`` costs: ``per_unit`` bills
        ``unit_amount x quantity``, tiered and package schemes price the quantity, and
        ``flat`` (the catalog's default ``scheme``) bills one fixed amount for the whole
        quantity (the line shows the quantity without a unit price). Stripe's default
        ``billing_scheme`` is per unit: create seat-like prices with ``scheme="per_unit"``.

        :raises InvoiceNotEditableError: the invoice is finalized.
        :raises FxRateUnavailableError: no amount or rate for the invoice's currency.
        """
        with validating("period"):
            line_period = None if period is None else Period.model_validate(period)
        settings = self._ctx.settings

        def change(uow: UnitOfWork, invoice: Invoice) -> Invoice:
            require_draft(invoice)
            price = uow.prices.get(price_id)
            product = uow.products.get(price.product_id)
            fx_rate = None
            if price.amounts_for(invoice.currency) is None:
                fx_rate = find_rate(
                    self._ctx.plugins.fx_rate_sources(),
                    price.currency,
                    invoice.currency,
                    self._ctx.clock.now(),
                )
            quote = price_quote(
                price, quantity, invoice.currency, fx_rate=fx_rate, rounding=invoice.rounding
            )
            line = price_line(
                price,
                product,
                quote,
                period=line_period,
                description=description,
                default_tax_behavior=settings.default_tax_behavior,
            )
            return add_line(invoice, line, currency=quote.currency)

        request = {
            "price_id": price_id,
            "quantity": quantity,
            "period": None if line_period is None else line_period.model_dump(mode="json"),
            "description": description,
        }
        return self._edit(
            "invoices.add_price_line",
            invoice_id,
            idempotency_key,
            request,
            change,
            lines_changed=True,
        )

    def add_line(
        self,
        invoice_id: str,
        *,
        description: str,
        idempotency_key: str,
        unit_amount: int | None = None,
        quantity: int = 1,
        amount: int | None = None,
        tax_code: str | None = None,
        tax_behavior: str | None = None,
        period: Period | Mapping[str, Any] | None = None,
        discountable: bool | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Invoice:
        """Add a custom line: ``unit_amount`` x ``quantity`` (or a priced ``amount``), in
        minor units of the invoice's currency; negative amounts are credits.

        ``discountable`` defaults to ``True`` for charges and ``False`` for credits, as
        Stripe's invoice items do: a goodwill credit is not shrunk by a percent coupon.

        :raises InvalidAmountError: amount and unit amount disagree, or neither is given.
        """
        if amount is None and unit_amount is not None:
            amount = unit_amount * quantity
        if discountable is None:
            discountable = not (isinstance(amount, int) and amount < 0)
        with validating("invoice line"):
            line = InvoiceLine(
                id=new_id("il"),
                description=description,
                quantity=quantity,
                unit_amount=unit_amount,
                amount=amount,  # None (neither given) fails validation as a missing amount
                period=period,
                tax_code=tax_code,
                tax_behavior=tax_behavior or self._ctx.settings.default_tax_behavior,
                discountable=discountable,
                metadata=dict(metadata or {}),
            )
        request = line.model_dump(mode="json", exclude={"id"})
        return self._edit(
            "invoices.add_line",
            invoice_id,
            idempotency_key,
            request,
            lambda uow, invoice: add_line(invoice, line),
            lines_changed=True,
        )

    def remove_line(self, invoice_id: str, line_id: str, *, idempotency_key: str) -> Invoice:
        """Remove a line from a draft; discounts are re-allocated over the rest, and a coupon
        whose minimum amount or product restriction the rest no longer meets is taken off
        and released (``removed_coupons``, event ``invoice.coupon_removed``)."""
        return self._edit(
            "invoices.remove_line",
            invoice_id,
            idempotency_key,
            {"line_id": line_id},
            lambda uow, invoice: remove_line(invoice, line_id),
            lines_changed=True,
        )

    # --- lifecycle ------------------------------------------------------------------------

    def finalize(
        self,
        invoice_id: str,
        *,
        idempotency_key: str,
        evidence: LocationEvidence | Mapping[str, Any] | None = None,
    ) -> Invoice:
        """Compute tax, apply the customer's credit balance, draw the next number and open
        the invoice (``paid`` at once when nothing is due).

        :raises InvalidStateTransitionError: not a draft, or tax needs review.
        :raises UnknownJurisdictionError: a tax engine needs the customer's address.
        """
        with validating("location evidence"):
            proof = None if evidence is None else LocationEvidence.model_validate(evidence)
        settings = self._ctx.settings

        def execute(uow: UnitOfWork, events: PendingEvents) -> Invoice:
            invoice = uow.invoices.get(invoice_id)
            if not can_transition(invoice.status, InvoiceStatus.OPEN):
                raise InvalidStateTransitionError(
                    f"Invoice {invoice.id} is {invoice.status.value}; only drafts finalize.",
                    invoice=invoice.id,
                )
            now = self._ctx.clock.now()
            # A safety net: edits re-check coupons already, but a draft stored by other means
            # (a renewal kept as draft, edited through the domain functions) is checked here.
            invoice, removed = recheck_coupons(uow, invoice, now)
            customer = uow.customers.get(invoice.customer_id)
            invoice = snapshot_customer(invoice, customer)
            taxed = apply_tax(invoice, customer, self.tax_engine, settings, now, proof)
            balance = uow.customer_balance.balance(customer.id, invoice.currency, lock=True)
            # Drawn last, so the counter row is locked for as short a time as possible.
            number = next_number(uow, settings.invoice_numbering, now)
            final = finalize(
                taxed,
                number,
                now,
                customer_balance=max(0, balance),
                allow_tax_review=settings.allow_tax_review,
            )
            if final.applied_balance:
                record_balance(uow, final, -final.applied_balance, "applied_to_invoice", now)
            uow.invoices.update(final)
            if final.credited_to_balance:  # a negative total is owed to the customer
                record_balance(uow, final, final.credited_to_balance, "invoice_credit", now)
            record_removals(events, final, removed)
            events.record("invoice.finalized", final, customer_id=final.customer_id)
            if final.status is InvoiceStatus.PAID:
                events.record("invoice.paid", final, customer_id=final.customer_id)
            return final

        request = {
            "invoice_id": invoice_id,
            "evidence": None if proof is None else proof.model_dump(mode="json"),
        }
        return self._run("invoices.finalize", idempotency_key, request, execute, Invoice)

    def pay(
        self,
        invoice_id: str,
        amount: int | moneyed.Money,
        *,
        payment_reference: str,
        idempotency_key: str,
        payment_method: str | None = None,
        paid_out_of_band: bool = True,
    ) -> InvoicePayment:
        """Record a payment (minor units or Money) made outside lms-billing or already
        verified by a gateway, and issue its numbered receipt.

        :raises OverpaymentError: more than the amount remaining.
        :raises InvalidStateTransitionError: the invoice is a draft, paid or void.
        """
        minor = amount if isinstance(amount, int) else to_minor_units(amount)

        def execute(uow: UnitOfWork, events: PendingEvents) -> InvoicePayment:
            invoice = uow.invoices.get(invoice_id)
            if not isinstance(amount, int) and amount.currency.code != invoice.currency:
                raise CurrencyMismatchError(
                    f"Invoice {invoice.id} is in {invoice.currency}.", left=invoice.currency
                )
            now = self._ctx.clock.now()
            paid = mark_paid(invoice, minor, now, paid_out_of_band=paid_out_of_band)
            receipt = receipt_for_invoice_payment(
                paid,
                receipt_id=new_id("rcpt"),
                number=next_number(uow, self._ctx.settings.receipt_numbering, now),
                payment_id=payment_reference,
                amount=minor,
                paid_at=now,
                payment_method=payment_method,
            )
            uow.invoices.update(paid)
            uow.receipts.add(receipt)
            events.record("receipt.created", receipt, customer_id=paid.customer_id)
            kind = "invoice.paid" if paid.status is InvoiceStatus.PAID else "invoice.updated"
            events.record(kind, paid, customer_id=paid.customer_id)
            return InvoicePayment(invoice=paid, receipt=receipt)

        request = {
            "invoice_id": invoice_id,
            "amount": minor,
            "currency": None if isinstance(amount, int) else amount.currency.code,
            "payment_reference": payment_reference,
            "payment_method": payment_method,
            "paid_out_of_band": paid_out_of_band,
        }
        return self._run("invoices.pay", idempotency_key, request, execute, InvoicePayment)

    def void(self, invoice_id: str, *, idempotency_key: str) -> Invoice:
        """Void an open or uncollectible invoice. It keeps its number (no gap); customer
        credit it had applied goes back to the customer's balance.

        :raises InvoiceHasPaymentsError: the invoice has payments (``amount_paid > 0``);
            issue a credit note instead (:meth:`create_credit_note` with ``refund_amount``
            or customer credit for what was paid).
        :raises InvalidStateTransitionError: the invoice is a draft, paid or void.
        """

        def change(uow: UnitOfWork, invoice: Invoice) -> Invoice:
            now = self._ctx.clock.now()
            voided = void(invoice, now)
            if invoice.applied_balance:
                record_balance(uow, voided, invoice.applied_balance, "invoice_voided", now)
            return voided

        return self._edit(
            "invoices.void", invoice_id, idempotency_key, {}, change, "invoice.voided"
        )

    def mark_uncollectible(self, invoice_id: str, *, idempotency_key: str) -> Invoice:
        """Write an open invoice off; it may still be paid or voided later."""
        return self._edit(
            "invoices.mark_uncollectible",
            invoice_id,
            idempotency_key,
            {},
            lambda uow, invoice: mark_uncollectible(invoice, self._ctx.clock.now()),
            "invoice.marked_uncollectible",
        )

    def delete_draft(self, invoice_id: str, *, idempotency_key: str) -> Invoice:
        """Delete a draft (never numbered, so no gap); its coupon redemptions are released.

        :raises InvalidStateTransitionError: the invoice was finalized (void it instead).
        """

        def execute(uow: UnitOfWork, events: PendingEvents) -> Invoice:
            invoice = uow.invoices.get(invoice_id)
            delete_draft(invoice)
            uow.coupons.release_invoice_redemptions(invoice.id)
            uow.invoices.delete(invoice.id)
            events.record("invoice.deleted", invoice, customer_id=invoice.customer_id)
            return invoice

        request = {"invoice_id": invoice_id}
        return self._run("invoices.delete", idempotency_key, request, execute, Invoice)

    # --- credit notes ---------------------------------------------------------------------

    def create_credit_note(
        self,
        invoice_id: str,
        *,
        idempotency_key: str,
        lines: Sequence[CreditLineRequest | Mapping[str, Any]] = (),
        amount: int | None = None,
        reason: CreditNoteReason | str | None = None,
        memo: str | None = None,
        refund_amount: int = 0,
        out_of_band_amount: int = 0,
    ) -> CreditNote:
        """Credit part or all of a finalized invoice, by lines (quantity or amount) or by a
        tax-inclusive ``amount``. On an unpaid invoice the credit reduces the amount due;
        beyond that it is refunded (``refund_amount``, recorded here, moved by the payments
        service), settled outside (``out_of_band_amount``) or added to the customer's credit
        balance (the rest), which the next invoice's finalization uses.

        :raises CreditExceedsInvoiceError: more than invoiced minus already credited.
        :raises InvoiceNotCreditableError: the invoice is a draft or void.
        """
        with validating("credit note"):
            wanted = CreditNoteRequest(
                lines=tuple(
                    x if isinstance(x, CreditLineRequest) else CreditLineRequest(**x) for x in lines
                ),
                amount=amount,
                reason=reason,
                memo=memo,
                refund_amount=refund_amount,
                out_of_band_amount=out_of_band_amount,
            )

        def execute(uow: UnitOfWork, events: PendingEvents) -> CreditNote:
            invoice = uow.invoices.get(invoice_id)
            previous = uow.credit_notes.list(invoice_id=invoice.id, limit=MAX_LIST_LIMIT)
            now = self._ctx.clock.now()
            note_id = new_id("cn")
            # A dry run first: bad requests fail before the counter row is locked.
            issue_credit_note(
                invoice, wanted, credit_note_id=note_id, number="-", now=now, previous=previous
            )
            return store_credit_note(
                uow,
                self._ctx.settings,
                invoice,
                wanted,
                credit_note_id=note_id,
                previous=previous,
                now=now,
                events=events,
            )

        request = {"invoice_id": invoice_id, **wanted.model_dump(mode="json")}
        return self._run("credit_notes.create", idempotency_key, request, execute, CreditNote)


__all__ = ["InvoicePayment", "InvoiceService"]
