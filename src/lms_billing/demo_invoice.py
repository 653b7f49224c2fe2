"""The invoicing part of ``lms-billing demo``: a promotion code, an invoice for a course and
team seats, its payment, and the documents written as HTML and PDF.

Every call carries an idempotency key, so running the demo again on the same database
replays the same invoice instead of issuing a new one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from lms_billing.billing import Billing
from lms_billing.domain.catalog import Price
from lms_billing.domain.customers import Address, TaxId
from lms_billing.domain.invoices import Invoice
from lms_billing.domain.tax import SellerTaxProfile
from lms_billing.errors import ConfigurationError
from lms_billing.money import format_money, from_minor_units
from lms_billing.services._invoicing_support import RenderFormat
from lms_billing.settings import BillingSettings, SellerDetails

DEMO_SETTINGS = BillingSettings(
    seller=SellerDetails(
        name="Lernwerk Academy Inc.",
        email="billing@lernwerk.example",
        website="lernwerk.example",
        address=Address(
            line1="500 Market St", city="San Francisco", state="CA", postal_code="94105",
            country="US",
        ),
        tax_profile=SellerTaxProfile(country="US", region="CA"),
        tax_ids=(TaxId(type="us_ein", value="12-3456789"),),
        payment_instructions="Pay by card in your account, or by bank transfer quoting the "
        "invoice number.",
    )
)  # fmt: skip
"""The demo's seller; zero tax (see docs/tax.md for real engines)."""


def _money(invoice: Invoice, minor: int) -> str:
    return format_money(from_minor_units(minor, invoice.currency), "en_US")


def issue_demo_invoice(
    billing: Billing,
    course: Price,
    seats: Price,
    out: Path,
    echo: Callable[[str], None] = print,
) -> Invoice:
    """Invoice a team lead for a course and 12 seats with the LAUNCH15 code, pay it, and write
    ``invoice-<number>.html/.pdf`` and ``receipt-<number>.html/.pdf`` into ``out``."""
    customer = billing.customers.create(
        {
            "external_id": "user-ada",
            "name": "Ada Lovelace",
            "email": "ada@example.org",
            "address": {
                "line1": "1 Main St",
                "city": "Springfield",
                "state": "IL",
                "postal_code": "62701",
                "country": "US",
            },
        },
        idempotency_key="demo:customer:ada",
    )
    coupon = billing.coupons.create_coupon(
        name="Launch 15 %", percent_off="15", idempotency_key="demo:coupon:launch"
    )
    billing.coupons.create_promotion_code(
        coupon_id=coupon.id, code="LAUNCH15", idempotency_key="demo:code:launch15"
    )
    invoices = billing.invoices
    draft = invoices.create_draft(customer.id, "USD", idempotency_key="demo:invoice:1")
    invoices.add_price_line(draft.id, course.id, idempotency_key="demo:invoice:1:course")
    # The period follows the draft's creation time, so a rerun replays the same request.
    period = {"start": draft.created_at, "end": draft.created_at + timedelta(days=30)}
    invoices.add_price_line(
        draft.id, seats.id, 12, period=period, idempotency_key="demo:invoice:1:seats"
    )
    invoices.apply_promotion_code(draft.id, "launch15", idempotency_key="demo:invoice:1:code")
    invoice = invoices.finalize(draft.id, idempotency_key="demo:invoice:1:finalize")
    payment = invoices.pay(
        invoice.id,
        invoice.amount_due,
        payment_reference="demo-bank-transfer-1",
        payment_method="Bank transfer",
        idempotency_key="demo:invoice:1:pay",
    )
    receipt = payment.receipt
    out.mkdir(parents=True, exist_ok=True)
    written = []
    skipped: list[str] = []
    documents: tuple[tuple[str, Callable[[RenderFormat], str | bytes]], ...] = (
        (f"invoice-{invoice.number}", lambda fmt: invoices.render(invoice.id, fmt)),
        (f"receipt-{receipt.number}", lambda fmt: invoices.render_receipt(receipt.id, fmt)),
    )
    for stem, render in documents:
        for fmt in ("html", "pdf"):
            try:
                content = render(fmt)
            except ConfigurationError as exc:
                # PDFs need fonts (fonts-dejavu-core); the demo still runs on a bare machine.
                skipped.append(f"{stem}.{fmt}: {exc.message}")
                continue
            path = out / f"{stem}.{fmt}"
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
            written.append(path)
    echo("")
    echo(f"Invoice {invoice.number} for {customer.name} (promotion code LAUNCH15):")
    echo(f"  subtotal {_money(invoice, invoice.subtotal)}")
    echo(f"  discount -{_money(invoice, invoice.total_discount)}")
    echo(f"  total    {_money(invoice, invoice.total)}")
    echo(f"  paid     {_money(invoice, receipt.amount_paid)} (receipt {receipt.number})")
    for path in written:
        echo(f"  wrote {path}")
    for reason in skipped:
        echo(f"  skipped {reason}")
    return payment.invoice


__all__ = ["DEMO_SETTINGS", "issue_demo_invoice"]
