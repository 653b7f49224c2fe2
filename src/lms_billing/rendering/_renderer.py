"""What the HTML and PDF renderers share: label overrides and choosing the view for a document.

Each renderer only says how to draw a :class:`~lms_billing.rendering.context.DocumentView`
(``render_view``); which view a document gets and which labels it uses live here, once.
Private: :class:`~lms_billing.rendering.html.HtmlRenderer` and
:class:`~lms_billing.rendering.pdf.PdfRenderer` are the public surface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Generic, TypeVar

from lms_billing.domain.credit_notes import CreditNote
from lms_billing.domain.invoices import Invoice
from lms_billing.domain.receipts import Receipt
from lms_billing.rendering.context import (
    DocumentView,
    Party,
    SellerDetails,
    credit_note_view,
    invoice_view,
    receipt_view,
)

OutputT = TypeVar("OutputT")


class DocumentRenderer(ABC, Generic[OutputT]):
    """Builds the localized view of each document and hands it to ``render_view``."""

    def __init__(self, *, labels: Mapping[str, Mapping[str, str]] | None = None) -> None:
        """``labels`` maps a language (``"de"``) to label overrides."""
        self._labels = dict(labels or {})

    def _labels_for(self, locale: str) -> Mapping[str, str] | None:
        # Overrides are keyed by language only: "de_AT" and "de-CH" both use "de".
        return self._labels.get(locale.replace("-", "_").split("_", 1)[0].lower())

    @abstractmethod
    def render_view(self, view: DocumentView) -> OutputT:
        """Draw an already built view."""

    def render_invoice(
        self,
        invoice: Invoice,
        seller: SellerDetails,
        *,
        locale: str = "en_US",
        timezone: str = "UTC",
        buyer: Party | None = None,
        credit_notes: Sequence[CreditNote] = (),
    ) -> OutputT:
        """The invoice in ``locale`` (dates in ``timezone``); ``buyer`` replaces the
        customer snapshot stored on the invoice; ``credit_notes`` (issued against this
        invoice) are listed on it."""
        labels = self._labels_for(locale)
        return self.render_view(
            invoice_view(
                invoice,
                seller,
                locale=locale,
                timezone=timezone,
                labels=labels,
                buyer=buyer,
                credit_notes=credit_notes,
            )
        )

    def render_receipt(
        self,
        receipt: Receipt,
        seller: SellerDetails,
        *,
        locale: str = "en_US",
        timezone: str = "UTC",
        invoice: Invoice | None = None,
    ) -> OutputT:
        """The payment receipt in ``locale`` (dates in ``timezone``); with the paid
        ``invoice`` it shows the tax included per rate and each line's rate."""
        labels = self._labels_for(locale)
        return self.render_view(
            receipt_view(
                receipt, seller, locale=locale, timezone=timezone, labels=labels, invoice=invoice
            )
        )

    def render_credit_note(
        self,
        note: CreditNote,
        seller: SellerDetails,
        *,
        locale: str = "en_US",
        timezone: str = "UTC",
        buyer: Party | None = None,
    ) -> OutputT:
        """The credit note in ``locale`` (dates in ``timezone``); pass the invoice's buyer
        as ``buyer``."""
        labels = self._labels_for(locale)
        return self.render_view(
            credit_note_view(
                note, seller, locale=locale, timezone=timezone, labels=labels, buyer=buyer
            )
        )


__all__ = ["DocumentRenderer"]
