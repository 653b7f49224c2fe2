"""Printed names of taxes and tax outcomes, per language (merged into the document labels).

A tax is named from its ``tax_type`` and the country of its jurisdiction, looked up as
``tax_name_<type>_<COUNTRY>`` first (``tax_name_vat_CH`` is "MWST" in German), then
``tax_name_<type>``; a type no table knows prints as itself (``"amusement_tax"`` ->
"Amusement tax"). Hosts override any of these keys like every other label (``labels=``).

``{tax}`` in a label is replaced with the tax's name.
"""

from __future__ import annotations

from collections.abc import Mapping

EN: dict[str, str] = {
    "tax_name_vat": "VAT",
    "tax_name_gst": "GST",
    "tax_name_hst": "HST",
    "tax_name_qst": "QST",
    "tax_name_pst": "PST",
    "tax_name_rst": "RST",
    "tax_name_igst": "IGST",
    "tax_name_jct": "Consumption tax",
    "tax_name_sales_tax": "Sales tax",
    "line_tax_rate": "Tax rate",
    "line_tax_rate_named": "{tax}",
    "tax_included": "{tax} included",
    "tax_included_generic": "Tax included",
    "tax_pending": "Calculated at finalization",
    "tax_reason_exempt": "exempt",
    "tax_reason_not_collected": "not collected",
    "tax_reason_not_taxable": "not taxable",
    "note_exempt": "No {tax} charged: the customer is exempt from {tax}.",
}

DE: dict[str, str] = {
    "tax_name_vat": "USt.",
    "tax_name_vat_CH": "MWST",
    "tax_name_jct": "Verbrauchsteuer",
    "tax_name_sales_tax": "Verkaufssteuer",
    "line_tax_rate": "Steuersatz",
    "tax_included": "Enthaltene {tax}",
    "tax_included_generic": "Enthaltene Steuer",
    "tax_pending": "Wird beim Abschluss berechnet",
    "tax_reason_exempt": "steuerbefreit",
    "tax_reason_not_collected": "nicht erhoben",
    "tax_reason_not_taxable": "nicht steuerbar",
    "note_exempt": "Keine {tax} berechnet: der Kunde ist von der {tax} befreit.",
}

FR: dict[str, str] = {
    "tax_name_vat": "TVA",
    "tax_name_gst_CA": "TPS",
    "tax_name_hst": "TVH",
    "tax_name_qst": "TVQ",
    "tax_name_pst": "TVP",
    "tax_name_rst": "TVD",
    "tax_name_jct": "Taxe sur la consommation",
    "tax_name_sales_tax": "Taxe de vente",
    "line_tax_rate": "Taux",
    "line_tax_rate_named": "{tax}",
    "tax_included": "{tax} incluse",
    "tax_included_generic": "Taxes incluses",
    "tax_pending": "Calculée à la finalisation",
    "tax_reason_exempt": "exonéré",
    "tax_reason_not_collected": "non perçue",
    "tax_reason_not_taxable": "non imposable",
    "note_exempt": "{tax} non facturée : le client est exonéré de {tax}.",
}

JA: dict[str, str] = {
    "tax_name_vat": "付加価値税",
    "tax_name_jct": "消費税",
    "tax_name_sales_tax": "売上税",
    "line_tax_rate": "税率",
    "line_tax_rate_named": "税率",
    "tax_included": "うち{tax}",
    "tax_included_generic": "うち税額",
    "tax_pending": "確定時に計算",
    "tax_reason_exempt": "免税",
    "tax_reason_not_collected": "徴収なし",
    "tax_reason_not_taxable": "不課税",
    "note_exempt": "{tax}は課税されません。お客様は{tax}が免除されています。",
}

PT: dict[str, str] = {
    "tax_name_vat": "IVA",
    "tax_name_jct": "Imposto sobre o consumo",
    "tax_name_sales_tax": "Imposto sobre vendas",
    "line_tax_rate": "Alíquota",
    "line_tax_rate_named": "{tax}",
    "tax_included": "{tax} incluído",
    "tax_included_generic": "Impostos incluídos",
    "tax_pending": "Calculado na finalização",
    "tax_reason_exempt": "isento",
    "tax_reason_not_collected": "não cobrado",
    "tax_reason_not_taxable": "não tributável",
    "note_exempt": "{tax} não cobrado: o cliente é isento de {tax}.",
}

TAX_LABELS: Mapping[str, Mapping[str, str]] = {"en": EN, "de": DE, "fr": FR, "ja": JA, "pt": PT}
"""Tax names and tax wording by language, overlaid on :data:`EN`."""

EXEMPT_REASONS = frozenset(
    {"exempt", "customer_exempt", "product_exempt", "product_exempt_holiday", "vat_exempt"}
)
NOT_COLLECTED_REASONS = frozenset({"not_registered", "no_nexus", "not_collecting"})
NOT_TAXABLE_REASONS = frozenset(
    {
        "not_taxable",
        "not_subject_to_tax",
        "outside_scope",
        "excluded_territory",
        "jurisdiction_unsupported",
        "not_supported",
    }
)
"""Reason codes (ours and Stripe Tax's) a zero tax line is annotated with."""


def tax_name(tax_type: str, jurisdiction: str, labels: Mapping[str, str]) -> str:
    """The printed name of a tax: ``("vat", "FR")`` is "TVA" in French, "USt." in German."""
    country = jurisdiction.split(":", 1)[0].split("-", 1)[0].upper()
    for key in (f"tax_name_{tax_type}_{country}", f"tax_name_{tax_type}"):
        if key in labels:
            return labels[key]
    if not tax_type or tax_type == "none":
        return labels["tax"]
    words = tax_type.replace("_", " ").strip()
    return words.upper() if len(words) <= 4 else words.capitalize()


def zero_reason_key(reason: str) -> str | None:
    """The label key annotating a zero tax line with ``reason``, if the reason is worth
    printing (reverse charge has its own wording)."""
    if reason in EXEMPT_REASONS:
        return "tax_reason_exempt"
    if reason in NOT_COLLECTED_REASONS:
        return "tax_reason_not_collected"
    if reason in NOT_TAXABLE_REASONS:
        return "tax_reason_not_taxable"
    return None


__all__ = [
    "DE",
    "EN",
    "EXEMPT_REASONS",
    "FR",
    "JA",
    "PT",
    "TAX_LABELS",
    "tax_name",
    "zero_reason_key",
]
