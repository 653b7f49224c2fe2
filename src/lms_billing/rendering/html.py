"""HTML rendering with jinja2 templates that hosts can override.

The built-in templates live in ``lms_billing/rendering/templates`` (``base.html`` plus
``invoice.html``, ``receipt.html`` and ``credit_note.html``). Pass ``template_dir`` and any
file there with the same name wins (a jinja2 ``ChoiceLoader``), so a host can restyle just
``base.html`` or replace ``invoice.html`` entirely while extending the built-in ``base.html``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, select_autoescape
from jinja2 import TemplateError as JinjaTemplateError

from lms_billing.domain.credit_notes import CreditNote
from lms_billing.domain.invoices import Invoice
from lms_billing.domain.receipts import Receipt
from lms_billing.errors import ConfigurationError
from lms_billing.rendering.context import (
    DocumentView,
    Party,
    SellerDetails,
    credit_note_view,
    invoice_view,
    receipt_view,
)


class HtmlRenderer:
    """Renders invoices, receipts and credit notes to HTML strings (autoescaped)."""

    def __init__(
        self,
        template_dir: str | Path | None = None,
        *,
        labels: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        """``template_dir`` overrides built-in templates; ``labels`` maps a language
        (``"de"``) to label overrides (see :mod:`lms_billing.rendering.labels`)."""
        loaders: list[FileSystemLoader | PackageLoader] = []
        if template_dir is not None:
            path = Path(template_dir)
            if not path.is_dir():
                raise ConfigurationError(f"Template directory {path} does not exist.")
            loaders.append(FileSystemLoader(str(path)))
        loaders.append(PackageLoader("lms_billing.rendering", "templates"))
        self.environment = Environment(
            loader=ChoiceLoader(loaders),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._labels = dict(labels or {})

    def _labels_for(self, locale: str) -> Mapping[str, str] | None:
        return self._labels.get(locale.replace("-", "_").split("_", 1)[0].lower())

    def render_view(self, view: DocumentView, template: str | None = None) -> str:
        """Render an already built view with ``template`` (default ``<kind>.html``)."""
        name = template or f"{view.kind}.html"
        try:
            return self.environment.get_template(name).render(doc=view)
        except JinjaTemplateError as exc:
            raise ConfigurationError(f"Template {name} failed: {exc}", template=name) from exc

    def render_invoice(
        self,
        invoice: Invoice,
        seller: SellerDetails,
        *,
        locale: str = "en_US",
        timezone: str = "UTC",
        buyer: Party | None = None,
    ) -> str:
        """The invoice as an HTML page in ``locale`` (dates in ``timezone``)."""
        view = invoice_view(
            invoice,
            seller,
            locale=locale,
            timezone=timezone,
            labels=self._labels_for(locale),
            buyer=buyer,
        )
        return self.render_view(view)

    def render_receipt(
        self,
        receipt: Receipt,
        seller: SellerDetails,
        *,
        locale: str = "en_US",
        timezone: str = "UTC",
    ) -> str:
        """The receipt as an HTML page."""
        view = receipt_view(
            receipt, seller, locale=locale, timezone=timezone, labels=self._labels_for(locale)
        )
        return self.render_view(view)

    def render_credit_note(
        self,
        note: CreditNote,
        seller: SellerDetails,
        *,
        locale: str = "en_US",
        timezone: str = "UTC",
        buyer: Party | None = None,
    ) -> str:
        """The credit note as an HTML page; pass the invoice's buyer as ``buyer``."""
        view = credit_note_view(
            note,
            seller,
            locale=locale,
            timezone=timezone,
            labels=self._labels_for(locale),
            buyer=buyer,
        )
        return self.render_view(view)


__all__ = ["HtmlRenderer"]
