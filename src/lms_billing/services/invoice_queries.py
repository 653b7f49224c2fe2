"""Reading invoices, credit notes, receipts and customer balances, and rendering them.

:class:`~lms_billing.services.invoicing.InvoiceService` inherits these; reads open a unit of
work each and never write.
"""

from __future__ import annotations

from lms_billing.domain.credit_notes import CreditNote
from lms_billing.domain.customer_balance import CustomerBalanceTransaction
from lms_billing.domain.invoices import Invoice, InvoiceStatus
from lms_billing.domain.receipts import Receipt
from lms_billing.money import Money, from_minor_units
from lms_billing.services._context import ServiceContext
from lms_billing.services._invoicing_render import DocumentRenderer
from lms_billing.services._invoicing_support import RenderFormat
from lms_billing.storage.base import DEFAULT_LIST_LIMIT


class InvoiceQueries:
    """The read side of invoicing."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._renderer = DocumentRenderer(ctx)

    # --- reads ----------------------------------------------------------------------------

    def get_invoice(self, invoice_id: str) -> Invoice:
        with self._ctx.storage.unit_of_work() as uow:
            return uow.invoices.get(invoice_id)

    def list_invoices(
        self,
        *,
        customer_id: str | None = None,
        status: InvoiceStatus | str | None = None,
        subscription_id: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[Invoice]:
        """Invoices, newest first, optionally for one customer and/or in one status."""
        wanted = None if status is None else InvoiceStatus(status)
        with self._ctx.storage.unit_of_work() as uow:
            return uow.invoices.list(
                customer_id=customer_id,
                status=wanted,
                subscription_id=subscription_id,
                limit=limit,
                starting_after=starting_after,
            )

    def get_credit_note(self, credit_note_id: str) -> CreditNote:
        with self._ctx.storage.unit_of_work() as uow:
            return uow.credit_notes.get(credit_note_id)

    def list_credit_notes(
        self,
        *,
        invoice_id: str | None = None,
        customer_id: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[CreditNote]:
        with self._ctx.storage.unit_of_work() as uow:
            return uow.credit_notes.list(
                invoice_id=invoice_id,
                customer_id=customer_id,
                limit=limit,
                starting_after=starting_after,
            )

    def get_receipt(self, receipt_id: str) -> Receipt:
        with self._ctx.storage.unit_of_work() as uow:
            return uow.receipts.get(receipt_id)

    def list_receipts(
        self,
        *,
        invoice_id: str | None = None,
        customer_id: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> list[Receipt]:
        with self._ctx.storage.unit_of_work() as uow:
            return uow.receipts.list(
                invoice_id=invoice_id,
                customer_id=customer_id,
                limit=limit,
                starting_after=starting_after,
            )

    def customer_balance(self, customer_id: str, currency: str) -> Money:
        """The customer's credit balance in ``currency`` (credit the next invoices use)."""
        with self._ctx.storage.unit_of_work() as uow:
            uow.customers.get(customer_id)
            minor = uow.customer_balance.balance(customer_id, currency)
        return from_minor_units(minor, currency)

    def balance_transactions(
        self, customer_id: str, *, currency: str | None = None
    ) -> list[CustomerBalanceTransaction]:
        """The customer's credit ledger, newest first."""
        with self._ctx.storage.unit_of_work() as uow:
            return uow.customer_balance.list(customer_id, currency=currency)

    # --- rendering ------------------------------------------------------------------------

    def render(
        self, invoice_id: str, format: RenderFormat = "html", *, locale: str | None = None
    ) -> str | bytes:
        """The invoice as HTML (``str``) or PDF (``bytes``) in ``locale`` (default: the
        customer's). Templates in ``settings.templates_dir`` override the built-in ones."""
        return self._renderer.invoice(invoice_id, format, locale)

    def render_receipt(
        self, receipt_id: str, format: RenderFormat = "html", *, locale: str | None = None
    ) -> str | bytes:
        return self._renderer.receipt(receipt_id, format, locale)

    def render_credit_note(
        self, credit_note_id: str, format: RenderFormat = "html", *, locale: str | None = None
    ) -> str | bytes:
        return self._renderer.credit_note(credit_note_id, format, locale)


__all__ = ["InvoiceQueries"]
