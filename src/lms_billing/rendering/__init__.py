"""Rendering invoices, receipts and credit notes for people: HTML (jinja2) and PDF (fpdf2).

``lms_billing.rendering.pdf`` needs the ``[pdf]`` extra (fpdf2), so it is not imported here::

    from lms_billing.rendering import HtmlRenderer, SellerDetails
    from lms_billing.rendering.pdf import PdfRenderer
"""

from __future__ import annotations

from lms_billing.rendering.context import (
    DocumentView,
    Party,
    SellerDetails,
    credit_note_view,
    invoice_view,
    receipt_view,
)
from lms_billing.rendering.html import HtmlRenderer

__all__ = [
    "DocumentView",
    "HtmlRenderer",
    "Party",
    "SellerDetails",
    "credit_note_view",
    "invoice_view",
    "receipt_view",
]
