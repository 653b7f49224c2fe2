"""Host configuration for a :class:`~lms_billing.Billing`: who sells, how tax is computed,
how documents are numbered and rendered.

::

    settings = BillingSettings(
        seller=SellerDetails(
            name="Acme Learning GmbH",
            email="billing@acme.example",
            address=Address(country="DE", line1="Hauptstr. 1", postal_code="10115",
                            city="Berlin"),
            tax_profile=SellerTaxProfile(country="DE", vat_id="DE811907980"),
            tax_ids=(TaxId(type="eu_vat", value="DE811907980"),),
        ),
        tax_engines=("eu_vat", "zero"),
    )
    billing = Billing("sqlite:///billing.db", settings=settings)

Settings are immutable; a multi-tenant host creates one ``Billing`` per tenant.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lms_billing.domain.customers import Address, LocaleTag, TaxId
from lms_billing.domain.discounts import DiscountOrder
from lms_billing.domain.numbering import (
    CREDIT_NOTE_SERIES,
    INVOICE_SERIES,
    RECEIPT_SERIES,
    NumberingSeries,
)
from lms_billing.domain.tax import SellerTaxProfile, TaxBehaviorValue
from lms_billing.errors import ConfigurationError
from lms_billing.money import DEFAULT_ROUNDING, RoundingMode
from lms_billing.rendering.context import SellerDetails as RenderedSeller


class SellerDetails(BaseModel):
    """The issuing business, printed on every document and used as the tax seller.

    :param tax_profile: where the seller is established and registered (tax engines).
    :param tax_ids: printed on documents (VAT number, ABN, GST number ...).
    :param registration_number: company register entry, printed in the footer.
    :param logo_text: a text mark printed above the seller's name (a wordmark).
    """

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1)
    address: Address | None = None
    email: str | None = None
    tax_profile: SellerTaxProfile | None = None
    tax_ids: tuple[TaxId, ...] = ()
    registration_number: str | None = None
    logo_text: str | None = None
    website: str | None = None
    legal_notes: tuple[str, ...] = ()
    payment_instructions: str | None = None

    def for_rendering(self) -> RenderedSeller:
        """The seller as the renderers print it."""
        notes = list(self.legal_notes)
        if self.registration_number:
            notes.insert(0, self.registration_number)
        return RenderedSeller(
            name=self.name if not self.logo_text else f"{self.logo_text} · {self.name}",
            email=self.email,
            address=self.address,
            tax_ids=self.tax_ids,
            legal_notes=tuple(notes),
            payment_instructions=self.payment_instructions,
            website=self.website,
        )


class BillingSettings(BaseModel):
    """Everything configurable about invoicing; the defaults run offline with no tax.

    :param tax_engines: engine names (from the ``lms_billing_tax_engines`` hook) tried in
        order; the first that handles a request computes it (``tax/chain.py``).
    :param default_tax_behavior: for prices whose ``tax_behavior`` is ``unspecified``.
    :param allow_tax_review: finalize even when an engine asks for a person to review.
    :param templates_dir: a folder whose templates override the built-in HTML ones.
    """

    model_config = ConfigDict(frozen=True)

    seller: SellerDetails | None = None
    tax_engines: tuple[str, ...] = ("zero",)
    default_tax_behavior: TaxBehaviorValue = "exclusive"
    allow_tax_review: bool = False
    invoice_numbering: NumberingSeries = INVOICE_SERIES
    credit_note_numbering: NumberingSeries = CREDIT_NOTE_SERIES
    receipt_numbering: NumberingSeries = RECEIPT_SERIES
    rounding: RoundingMode = DEFAULT_ROUNDING
    discount_order: DiscountOrder = DiscountOrder.PERCENT_FIRST
    default_locale: LocaleTag = "en_US"
    timezone: str = "UTC"
    templates_dir: Path | None = None

    @model_validator(mode="after")
    def _distinct_series(self) -> BillingSettings:
        ids = [
            self.invoice_numbering.id,
            self.credit_note_numbering.id,
            self.receipt_numbering.id,
        ]
        if len(set(ids)) != len(ids):
            # Shared counters would interleave invoice, credit note and receipt numbers.
            raise ConfigurationError(
                f"Invoice, credit note and receipt series need distinct ids, got {ids}."
            )
        return self


__all__ = ["BillingSettings", "SellerDetails"]
