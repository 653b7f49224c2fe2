"""Rendering stored invoices, receipts and credit notes (HTML with jinja2, PDF with fpdf2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lms_billing.domain.credit_notes import CreditNote
from lms_billing.errors import ConfigurationError, ValidationError
from lms_billing.rendering.context import (
    credit_note_view,
    invoice_buyer,
    invoice_view,
    receipt_view,
)
from lms_billing.rendering.html import HtmlRenderer
from lms_billing.services._context import ServiceContext
from lms_billing.services._invoicing_support import RenderFormat, seller_for_rendering
from lms_billing.storage.base import UnitOfWork, every

if TYPE_CHECKING:
    from lms_billing.rendering.context import DocumentView
    from lms_billing.rendering.pdf import PdfRenderer


def _credit_notes(uow: UnitOfWork, invoice_id: str) -> list[CreditNote]:
    """Every credit note issued against the invoice, page by page."""
    return list(every(uow.credit_notes.list, invoice_id=invoice_id))


class DocumentRenderer:
    """Loads a document, localizes it for its customer and draws it."""

    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._html: HtmlRenderer | None = None
        self._pdf: PdfRenderer | None = None

    def _draw(self, view: DocumentView, format: RenderFormat) -> str | bytes:
        if format == "html":
            if self._html is None:
                self._html = HtmlRenderer(self._ctx.settings.templates_dir)
            return self._html.render_view(view)
        if format == "pdf":
            if self._pdf is None:
                try:
                    from lms_billing.rendering.pdf import PdfRenderer
                except ImportError as exc:  # fpdf2 comes with the [pdf] extra
                    raise ConfigurationError(
                        "PDF rendering needs the pdf extra: pip install 'lms-billing[pdf]'."
                    ) from exc
                self._pdf = PdfRenderer()
            return self._pdf.render_view(view)
        raise ValidationError(f"Unknown format {format!r}; use 'html' or 'pdf'.", format=format)

    def _locale(self, uow: UnitOfWork, customer_id: str, locale: str | None) -> str:
        if locale is not None:
            return locale
        customer = uow.customers.get_or_none(customer_id)
        return customer.locale if customer is not None else self._ctx.settings.default_locale

    def invoice(self, invoice_id: str, format: RenderFormat, locale: str | None) -> str | bytes:
        settings = self._ctx.settings
        with self._ctx.storage.unit_of_work() as uow:
            invoice = uow.invoices.get(invoice_id)
            tag = self._locale(uow, invoice.customer_id, locale)
            notes = _credit_notes(uow, invoice_id)
        view = invoice_view(
            invoice,
            seller_for_rendering(settings),
            locale=tag,
            timezone=settings.timezone,
            credit_notes=notes,
        )
        return self._draw(view, format)

    def receipt(self, receipt_id: str, format: RenderFormat, locale: str | None) -> str | bytes:
        settings = self._ctx.settings
        with self._ctx.storage.unit_of_work() as uow:
            receipt = uow.receipts.get(receipt_id)
            tag = self._locale(uow, receipt.customer_id, locale)
            invoice = None
            if receipt.invoice_id is not None:
                invoice = uow.invoices.get_or_none(receipt.invoice_id)
        view = receipt_view(
            receipt,
            seller_for_rendering(settings),
            locale=tag,
            timezone=settings.timezone,
            invoice=invoice,
        )
        return self._draw(view, format)

    def credit_note(
        self, credit_note_id: str, format: RenderFormat, locale: str | None
    ) -> str | bytes:
        settings = self._ctx.settings
        with self._ctx.storage.unit_of_work() as uow:
            note = uow.credit_notes.get(credit_note_id)
            invoice = uow.invoices.get(note.invoice_id)
            tag = self._locale(uow, note.customer_id, locale)
        view = credit_note_view(
            note,
            seller_for_rendering(settings),
            locale=tag,
            timezone=settings.timezone,
            buyer=invoice_buyer(invoice),
        )
        return self._draw(view, format)


__all__ = ["DocumentRenderer"]
