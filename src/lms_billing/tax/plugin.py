"""The built-in tax engines, registered through the same hook third-party plugins use.

Registered with ``trylast=True``, like every built-in. Engine names must be unique across
plugins, so a plugin contributing a configured engine (a US nexus list, a VIES validator) gives
it its own name and the host's ``tax_engines`` configuration picks it. The Stripe Tax adapter is
not built in: it needs an API key (see docs/tax.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from lms_billing.hookspecs import hookimpl
from lms_billing.ports import TaxEngine
from lms_billing.tax.canada import CanadaTaxEngine
from lms_billing.tax.eu_vat import EuVatEngine
from lms_billing.tax.national import national_engines
from lms_billing.tax.us_sales_tax import UsSalesTaxEngine
from lms_billing.tax.zero import ZeroTaxEngine


def builtin_tax_engines() -> list[TaxEngine]:
    """Fresh default instances: zero, eu_vat, uk_vat, no_vat, ch_vat, au_gst, jp_ct, ca_gst,
    us_sales_tax (with no nexus: configure a ``UsSalesTaxEngine`` in a plugin to collect)."""
    engines: list[TaxEngine] = [ZeroTaxEngine(), EuVatEngine()]
    engines.extend(national_engines())
    engines.extend([CanadaTaxEngine(), UsSalesTaxEngine()])
    return engines


@hookimpl(trylast=True)
def lms_billing_tax_engines() -> Sequence[TaxEngine]:
    """The built-in engines (offline, table based)."""
    return builtin_tax_engines()


__all__ = ["builtin_tax_engines", "lms_billing_tax_engines"]
