"""lms-billing: an embeddable billing SDK for learning-management platforms.

Start with :class:`Billing`, the one entry point::

    from lms_billing import Billing
    billing = Billing(storage_url="sqlite:///billing.db")

Plugins implement the hooks in :mod:`lms_billing.hookspecs`, marked with :data:`hookimpl`.
"""

from lms_billing._version import __version__
from lms_billing.billing import Billing
from lms_billing.clock import Clock, SystemClock, TestClock
from lms_billing.errors import BillingError
from lms_billing.hookspecs import hookimpl
from lms_billing.money import Money, RoundingMode, format_money
from lms_billing.settings import BillingSettings, SellerDetails

__all__ = [
    "Billing",
    "BillingError",
    "BillingSettings",
    "Clock",
    "Money",
    "RoundingMode",
    "SellerDetails",
    "SystemClock",
    "TestClock",
    "__version__",
    "format_money",
    "hookimpl",
]
