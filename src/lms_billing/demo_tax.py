"""The tax part of ``lms-billing demo``: one seller, three buyers, three tax outcomes.

An Irish seller registered for the EU One-Stop Shop and for New York sales tax invoices the
same course to a learner in France (French VAT, proven by two pieces of location evidence),
to a German company with a valid VAT id (reverse charge: no VAT, and the legally required
note) and to a learner in New York (state sales tax). The engines are the built-ins, chained
``eu_vat`` -> ``us_sales_tax`` -> ``zero`` through settings.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from lms_billing.billing import Billing
from lms_billing.domain.customers import Address, TaxId
from lms_billing.domain.invoices import Invoice
from lms_billing.domain.numbering import NumberingSeries
from lms_billing.domain.tax import SellerTaxProfile, TaxRegistration
from lms_billing.money import format_money, from_minor_units
from lms_billing.settings import BillingSettings, SellerDetails

TAX_DEMO_SETTINGS = BillingSettings(
    seller=SellerDetails(
        name="Lernwerk Academy Ltd",
        email="billing@lernwerk.example",
        address=Address(line1="1 Grand Canal Sq", city="Dublin", postal_code="D02 P820",
                        country="IE"),
        tax_profile=SellerTaxProfile(
            country="IE",
            vat_id="IE6388047V",
            registrations=(
                TaxRegistration(jurisdiction="EU"),  # One-Stop Shop for EU B2C sales
                TaxRegistration(jurisdiction="US-NY"),  # sales-tax nexus in New York
            ),
        ),
        tax_ids=(TaxId(type="eu_vat", value="IE6388047V"),),
    ),
    tax_engines=("eu_vat", "us_sales_tax", "zero"),
    invoice_numbering=NumberingSeries(id="tax-demo", prefix="TAX"),
)  # fmt: skip

BUYERS: tuple[tuple[str, dict[str, Any], str, dict[str, str] | None], ...] = (
    (
        "EU B2C (France)",
        {"external_id": "learner-fr", "name": "Camille Martin", "locale": "fr_FR",
         "address": {"country": "FR", "city": "Lyon", "postal_code": "69002"}},
        "EUR",
        {"billing_country": "FR", "ip_country": "FR"},
    ),
    (
        "EU B2B (Germany, reverse charge)",
        {"external_id": "org-de", "name": "Lernwerk Partner GmbH", "kind": "organization",
         "locale": "de_DE", "address": {"country": "DE", "city": "Berlin", "postal_code": "10115"},
         "tax_ids": [{"type": "eu_vat", "value": "DE136695976"}]},
        "EUR",
        None,
    ),
    (
        "US (New York)",
        {"external_id": "learner-ny", "name": "Jordan Lee",
         "address": {"country": "US", "state": "NY", "city": "New York", "postal_code": "10001"}},
        "USD",
        None,
    ),
)  # fmt: skip


def _percent(rate: Decimal) -> str:
    text = format(rate * 100, "f")
    return (text.rstrip("0").rstrip(".") if "." in text else text) + "%"


def _money(invoice: Invoice, minor: int) -> str:
    return format_money(from_minor_units(minor, invoice.currency), "en_US")


def run_tax_demo(out: Path | None = None, echo: Callable[[str], None] = print) -> list[Invoice]:
    """Invoice the three buyers for a EUR 100 / USD 110 course; print each tax outcome and,
    with ``out``, write the reverse-charge invoice as HTML."""
    invoices: list[Invoice] = []
    with Billing("memory://", settings=TAX_DEMO_SETTINGS, load_entrypoints=False) as billing:
        course = billing.catalog.create_product(name="Python 101", idempotency_key="tax:course")
        price = billing.catalog.create_price(
            product_id=course.id,
            currency="EUR",
            unit_amount=10000,
            currency_options={"USD": {"unit_amount": 11000}},
            tax_behavior="exclusive",
            idempotency_key="tax:price",
        )
        echo("")
        echo("Tax: one Irish seller (EU OSS + New York nexus), three buyers")
        for label, profile, currency, evidence in BUYERS:
            key = f"tax:{profile['external_id']}"
            customer = billing.customers.create(profile, idempotency_key=f"{key}:customer")
            draft = billing.invoices.create_draft(
                customer.id, currency, idempotency_key=f"{key}:draft"
            )
            billing.invoices.add_price_line(draft.id, price.id, idempotency_key=f"{key}:line")
            invoice = billing.invoices.finalize(
                draft.id, evidence=evidence, idempotency_key=f"{key}:finalize"
            )
            invoices.append(invoice)
            taxes = [tax for line in invoice.lines for tax in line.tax_amounts]
            detail = ", ".join(
                f"{tax.jurisdiction} {tax.tax_type} {_percent(tax.rate)}"
                + (" reverse charge" if tax.reverse_charge else "")
                for tax in taxes
            )
            echo(
                f"  {label:<34} net {_money(invoice, invoice.total_excluding_tax):>10}  "
                f"tax {_money(invoice, invoice.tax):>8}  total {_money(invoice, invoice.total):>10}"
                f"  [{detail}]"
            )
            for note in invoice.tax_notes:
                echo(f"  {'':<34} note on the invoice: {note!r}")
            if out is not None and any(tax.reverse_charge for tax in taxes):
                path = out / f"invoice-{invoice.number}-reverse-charge.html"
                html = billing.invoices.render(invoice.id, "html")
                assert isinstance(html, str)  # "html" renders text, "pdf" bytes
                path.write_text(html, encoding="utf-8")
                echo(f"  {'':<34} wrote {path}")
    return invoices


__all__ = ["TAX_DEMO_SETTINGS", "run_tax_demo"]
