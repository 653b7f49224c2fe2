"""How tax reads on a document: names, per-line rates, the breakdown per rate, legal notes.

Private: :mod:`lms_billing.rendering.context` builds views with these. A tax is named from
its type and jurisdiction (:func:`~lms_billing.rendering.tax_labels.tax_name`), never one
hard-coded word: the same French VAT prints "TVA" in French, "USt." in German and
"付加価値税" in Japanese, where "消費税" is kept for Japanese consumption tax.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from lms_billing.domain.invoices import LineTaxAmount
from lms_billing.rendering._format import Formatter
from lms_billing.rendering.tax_labels import EXEMPT_REASONS, tax_name, zero_reason_key

_NO_TAX = "\u2013"  # printed in the rate column for a line no tax applies to


@dataclass(frozen=True)
class TaxRowView:
    """One row of the tax breakdown: a tax at one rate in one jurisdiction."""

    label: str
    taxable_amount: str
    amount: str


def jurisdiction_text(jurisdiction: str) -> str:
    """``"US-CA:county:Los Angeles"`` (Stripe Tax) prints as ``"US-CA (Los Angeles)"``."""
    base, _, rest = jurisdiction.partition(":")
    if not rest:
        return base
    level, _, name = rest.partition(":")
    return f"{base} ({name or level})"


def _name(tax: LineTaxAmount, fmt: Formatter) -> str:
    return tax_name(tax.tax_type, tax.jurisdiction, fmt.labels)


def _annotation(tax: LineTaxAmount, fmt: Formatter, *, inclusive_note: bool) -> str | None:
    """Why a tax is zero (reverse charge, exempt, not collected ...), or how it is charged."""
    text = fmt.labels
    if tax.reverse_charge:
        return text["reverse_charge"]
    key = _zero_reason(tax)
    if key is not None:
        return text[key]
    if tax.inclusive and inclusive_note:
        return text["included"]
    return None


def tax_label(tax: LineTaxAmount, fmt: Formatter, *, inclusive_note: bool = True) -> str:
    """``"TVA FR 20 %"``, ``"USt. FR 0 % (Steuerschuldnerschaft des Leistungsempfängers)"``;
    ``inclusive_note`` marks taxes inside the price ("(incl.)")."""
    label = f"{_name(tax, fmt)} {jurisdiction_text(tax.jurisdiction)} {fmt.percent(tax.rate)}"
    annotation = _annotation(tax, fmt, inclusive_note=inclusive_note)
    return label if annotation is None else f"{label} ({annotation})"


def _zero_reason(tax: LineTaxAmount) -> str | None:
    return zero_reason_key(tax.reason) if tax.amount == 0 and tax.rate == 0 else None


def _sort_key(tax: LineTaxAmount) -> tuple[str, str, Decimal, bool, bool, str]:
    # Everything the label says, so rows that read differently never merge.
    reason = _zero_reason(tax) or ""
    return (tax.jurisdiction, tax.tax_type, tax.rate, tax.inclusive, tax.reverse_charge, reason)


def tax_groups(
    taxes: Iterable[LineTaxAmount], fmt: Formatter, *, inclusive_note: bool = True
) -> list[tuple[str, int, int]]:
    """``(label, taxable amount, tax)`` per tax, rate and jurisdiction, in a stable order
    (jurisdiction, type, rate ascending)."""
    groups: dict[tuple[str, str, Decimal, bool, bool, str], tuple[str, int, int]] = {}
    for tax in taxes:
        key = _sort_key(tax)
        first = (tax_label(tax, fmt, inclusive_note=inclusive_note), 0, 0)
        label, taxable, amount = groups.get(key, first)
        groups[key] = (label, taxable + tax.taxable_amount, amount + tax.amount)
    return [groups[key] for key in sorted(groups)]


def tax_rows(taxes: Iterable[LineTaxAmount], fmt: Formatter) -> tuple[TaxRowView, ...]:
    """The tax breakdown per rate: taxable amount and tax of each group."""
    return tuple(
        TaxRowView(label=label, taxable_amount=fmt.money(taxable), amount=fmt.money(amount))
        for label, taxable, amount in tax_groups(taxes, fmt)
    )


def tax_names(taxes: Iterable[LineTaxAmount], fmt: Formatter) -> list[str]:
    """The distinct printed tax names, in order of appearance."""
    return list(dict.fromkeys(_name(tax, fmt) for tax in taxes))


def document_tax_name(taxes: Sequence[LineTaxAmount], fmt: Formatter) -> str:
    """The name for the document's tax total: the tax's own name ("TVA", "Sales tax") when
    every line has the same tax, else the generic word ("Tax", "Steuer", "税額")."""
    names = tax_names(taxes, fmt)
    return names[0] if len(names) == 1 else fmt.labels["tax"]


def rate_heading(taxes: Sequence[LineTaxAmount], fmt: Formatter) -> str:
    """The heading of the per-line rate column; empty when no line has tax (no column)."""
    if not taxes:
        return ""
    names = tax_names(taxes, fmt)
    if len(names) == 1:
        return fmt.labels["line_tax_rate_named"].replace("{tax}", names[0])
    return fmt.labels["line_tax_rate"]


def line_rate(line_taxes: Sequence[LineTaxAmount], fmt: Formatter, *, named: bool) -> str:
    """The rate(s) of one line, one per line of text; ``named`` prefixes each with its tax
    (``"GST 5 %"`` over ``"QST 9,975 %"``) when the document has several taxes."""
    if not line_taxes:
        return _NO_TAX
    parts = []
    for tax in line_taxes:
        rate = fmt.percent(tax.rate)
        parts.append(f"{_name(tax, fmt)} {rate}" if named else rate)
    return "\n".join(parts)


def legal_notes(notes: Sequence[str], taxes: Sequence[LineTaxAmount], fmt: Formatter) -> list[str]:
    """The engine's notes in the reader's language, plus the mentions the tax outcome
    requires on the document: reverse charge and exemption."""
    text = fmt.labels
    reverse = text["reverse_charge"]
    result = []
    for note in dict.fromkeys(notes):
        # Engines write the EU mention in English; print it in the reader's language too.
        if note.strip().lower() == "reverse charge" and reverse != note.strip():
            note = f"{reverse} ({note.strip()})"
        result.append(note)
    if any(t.reverse_charge for t in taxes) and not any("reverse" in n.lower() for n in result):
        result.append(reverse if reverse == "Reverse charge" else f"{reverse} (Reverse charge)")
    exempt = [t for t in taxes if t.reason in EXEMPT_REASONS and t.amount == 0]
    for name in tax_names(exempt, fmt):
        result.append(text["note_exempt"].replace("{tax}", name))
    return result


__all__ = [
    "TaxRowView",
    "document_tax_name",
    "jurisdiction_text",
    "legal_notes",
    "line_rate",
    "rate_heading",
    "tax_groups",
    "tax_label",
    "tax_names",
    "tax_rows",
]
