"""The :class:`Billing` facade: the one object an LMS service creates and calls."""

from __future__ import annotations

from collections.abc import Iterable
from types import TracebackType

from lms_billing.clock import Clock, SystemClock
from lms_billing.plugins.manager import PluginHost, get_plugin_manager
from lms_billing.plugins.sinks import InProcessSink
from lms_billing.services._context import ServiceContext
from lms_billing.services.catalog import CatalogService
from lms_billing.services.coupons import CouponService
from lms_billing.services.customers import CustomerService
from lms_billing.services.invoicing import InvoiceService
from lms_billing.services.payments import PaymentService
from lms_billing.services.subscriptions import SubscriptionService
from lms_billing.services.tax_reporting import TaxReportService
from lms_billing.settings import BillingSettings
from lms_billing.storage.base import Storage

DEFAULT_STORAGE_URL = "sqlite:///lms_billing.db"


class Billing:
    """lms-billing, wired: storage, plugins and clock, with one service per area.

    ::

        billing = Billing(storage_url="sqlite:///billing.db", plugins=[my_plugin])
        course = billing.catalog.create_product(name="Python 101", idempotency_key="c-1")

    :param storage_url: where data lives: ``sqlite:///path.db`` (the embedded default),
        ``postgresql+psycopg://user@host/db`` or ``memory://`` (tests). A plugin's storage
        backend may handle other schemes.
    :param plugins: plugin objects or modules to register in addition to installed ones.
    :param clock: the source of "now"; pass a :class:`~lms_billing.TestClock` in tests.
    :param load_entrypoints: load plugins installed under the ``lms_billing`` entry point.
    :param auto_migrate: bring the schema up to date on start (``lms-billing migrate`` does
        the same from the command line; turn this off where a deploy step runs migrations).
    :param settings: seller, tax engines, numbering and rendering (defaults: no seller,
        zero tax, ``INV-<year>-000001`` numbering).
    """

    def __init__(
        self,
        storage_url: str = DEFAULT_STORAGE_URL,
        *,
        plugins: Iterable[object] = (),
        clock: Clock | None = None,
        load_entrypoints: bool = True,
        auto_migrate: bool = True,
        settings: BillingSettings | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.plugins = PluginHost(get_plugin_manager(plugins, load_entrypoints=load_entrypoints))
        self.storage: Storage = self.plugins.storage_backend_for(storage_url).open(storage_url)
        if auto_migrate:
            self.storage.migrate()
        self.settings = settings or BillingSettings()
        ctx = ServiceContext(
            storage=self.storage, plugins=self.plugins, clock=self.clock, settings=self.settings
        )
        self.catalog = CatalogService(ctx)
        self.customers = CustomerService(ctx)
        self.coupons = CouponService(ctx)
        self.invoices = InvoiceService(ctx)
        self.subscriptions = SubscriptionService(ctx)
        self.payments = PaymentService(ctx, invoices=self.invoices)
        # Renewal invoices are noted for payments.collect_due (charged after the batch).
        self.subscriptions.collector = self.payments.collector
        self.subscriptions.refunder = self.payments  # cancel(..., refund=True)
        self.tax_reports = TaxReportService(ctx)

    @property
    def events(self) -> InProcessSink:
        """The built-in in-process event sink: ``billing.events.subscribe(handler,
        types=["invoice.*"])`` calls ``handler(event)`` after each commit (see
        docs/plugins.md for the delivery guarantee).

        :raises ConfigurationError: a plugin replaced the ``in_process`` sink.
        """
        return self.plugins.in_process_sink()

    def close(self) -> None:
        """Release database connections."""
        self.storage.close()

    def __enter__(self) -> Billing:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


__all__ = ["DEFAULT_STORAGE_URL", "Billing"]
