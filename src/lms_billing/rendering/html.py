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

from lms_billing.errors import ConfigurationError
from lms_billing.rendering._renderer import DocumentRenderer
from lms_billing.rendering.context import DocumentView


class HtmlRenderer(DocumentRenderer[str]):
    """Renders invoices, receipts and credit notes to HTML strings (autoescaped).

    ``render_invoice``, ``render_receipt`` and ``render_credit_note`` (from
    :class:`~lms_billing.rendering._renderer.DocumentRenderer`) return the HTML page.
    """

    def __init__(
        self,
        template_dir: str | Path | None = None,
        *,
        labels: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        """``template_dir`` overrides built-in templates; ``labels`` maps a language
        (``"de"``) to label overrides (see :mod:`lms_billing.rendering.labels`)."""
        super().__init__(labels=labels)
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

    def render_view(self, view: DocumentView, template: str | None = None) -> str:
        """Render an already built view with ``template`` (default ``<kind>.html``)."""
        name = template or f"{view.kind}.html"
        try:
            return self.environment.get_template(name).render(doc=view)
        except JinjaTemplateError as exc:
            raise ConfigurationError(f"Template {name} failed: {exc}", template=name) from exc


__all__ = ["HtmlRenderer"]
