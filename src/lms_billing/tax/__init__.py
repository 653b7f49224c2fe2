"""Tax engines and their effective-dated rate data (see docs/tax.md).

Offline, table-based engines are exported here. The Stripe Tax adapter
(:mod:`lms_billing.tax.stripe_tax`, needs the ``stripe`` extra) and the live VIES validator
(:mod:`lms_billing.tax.vies`, needs ``requests``) are imported from their modules.
"""

from lms_billing.tax.canada import CanadaTaxEngine
from lms_billing.tax.chain import TaxEngineChain, chain_by_name
from lms_billing.tax.compute import TaxDecision, compute_tax_lines
from lms_billing.tax.eu_vat import EuVatEngine
from lms_billing.tax.evidence import EvidenceAssessment, assess_location
from lms_billing.tax.national import NationalSpec, NationalTaxEngine, national_engines
from lms_billing.tax.report import (
    EurRateSource,
    FxEurRates,
    ReportPeriod,
    TaxedDocument,
    TaxReportRow,
    TaxScheme,
    build_tax_report,
    tax_report_csv,
)
from lms_billing.tax.us_sales_tax import UsSalesTaxEngine
from lms_billing.tax.vat_ids import (
    EuVatId,
    FormatOnlyValidator,
    VatIdCheck,
    VatIdValidator,
    parse_eu_vat_id,
    validate_tax_id,
)
from lms_billing.tax.zero import ZeroTaxEngine

__all__ = [
    "CanadaTaxEngine",
    "EuVatEngine",
    "EuVatId",
    "EurRateSource",
    "EvidenceAssessment",
    "FormatOnlyValidator",
    "FxEurRates",
    "NationalSpec",
    "NationalTaxEngine",
    "ReportPeriod",
    "TaxDecision",
    "TaxEngineChain",
    "TaxReportRow",
    "TaxScheme",
    "TaxedDocument",
    "UsSalesTaxEngine",
    "VatIdCheck",
    "VatIdValidator",
    "ZeroTaxEngine",
    "assess_location",
    "build_tax_report",
    "chain_by_name",
    "compute_tax_lines",
    "national_engines",
    "parse_eu_vat_id",
    "tax_report_csv",
    "validate_tax_id",
]
