"""The view models templates draw: parties as given, documents as already localized strings.

:class:`DocumentView` is what a template receives as ``doc``; it is built by
:mod:`lms_billing.rendering.context` and holds nothing but printable strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from lms_billing.domain.customers import Address, TaxId
from lms_billing.rendering._taxes import TaxRowView


class Party(BaseModel):
    """A seller or buyer as printed on a document."""

    model_config = ConfigDict(frozen=True)

    name: str
    email: str | None = None
    address: Address | None = None
    tax_ids: tuple[TaxId, ...] = ()


class SellerDetails(Party):
    """The issuing business: printed in the header and footer of every document.

    ``legal_notes`` are printed on every invoice (registered office, company number, a
    small-business VAT exemption notice ...); ``payment_instructions`` on invoices only.
    """

    legal_notes: tuple[str, ...] = ()
    payment_instructions: str | None = None
    website: str | None = None


@dataclass(frozen=True)
class Row:
    label: str
    value: str
    strong: bool = False


@dataclass(frozen=True)
class PartyView:
    name: str
    lines: tuple[str, ...] = ()
    tax_ids: tuple[str, ...] = ()
    email: str | None = None


@dataclass(frozen=True)
class LineView:
    description: str
    details: tuple[str, ...]
    quantity: str
    unit_price: str
    amount: str
    tax_rate: str = ""
    """The line's tax rate(s), one per text line ("20 %"); empty without a rate column."""


@dataclass(frozen=True)
class CreditNoteRefView:
    """A credit note listed on the invoice it corrects."""

    number: str
    date: str
    amount: str
    effect: str
    void: bool = False


@dataclass(frozen=True)
class DocumentView:
    """Everything a template prints, already localized."""

    kind: str
    title: str
    number: str
    status: str | None
    locale: str
    lang: str
    meta: tuple[Row, ...]
    seller: PartyView
    buyer: PartyView | None
    lines: tuple[LineView, ...]
    totals: tuple[Row, ...]
    tax_rows: tuple[TaxRowView, ...]
    notes: tuple[str, ...]
    footer: tuple[str, ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    tax_rate_heading: str = ""
    """Heading of the per-line tax rate column ("TVA", "Tax rate"); empty: no such column."""
    tax_name: str = ""
    """The name the document's tax total is printed under ("USt.", "Sales tax", "Tax")."""
    credit_notes: tuple[CreditNoteRefView, ...] = ()
    """Credit notes issued against this invoice (invoices only)."""

    @property
    def show_unit_price(self) -> bool:
        """False when no line has a unit price (receipts): the column is left out."""
        return any(line.unit_price for line in self.lines)

    @property
    def show_tax_rate(self) -> bool:
        """True when the lines carry a tax rate column (every taxed document)."""
        return bool(self.tax_rate_heading)

    @property
    def running_title(self) -> str:
        """``"Invoice INV-2026-000123"``: what every page of a long document repeats."""
        return f"{self.title} {self.number}".strip()


__all__ = [
    "CreditNoteRefView",
    "DocumentView",
    "LineView",
    "Party",
    "PartyView",
    "Row",
    "SellerDetails",
    "TaxRowView",
]
