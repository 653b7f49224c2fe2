"""Plug the LMS's own services in: a User Service client as a :class:`CustomerDirectory` and a
Course Service client as a :class:`ProductCatalog`, adapted to the resolution hooks.

The resolution hooks (``lms_billing_resolve_customer`` / ``_product``) are what the host
calls; these ports are the shape of the objects most LMSs already have (a client with a
``get_...`` method). :func:`directory_plugin` turns such objects into a plugin, so they need
no hook code of their own::

    class UserServiceClient:
        def get_customer(self, external_id: str) -> CustomerProfile | None: ...

    billing = Billing(plugins=[directory_plugin(customers=UserServiceClient())])
    billing.customers.import_customer("lms-user-42", idempotency_key="import-42")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lms_billing.errors import ConfigurationError, PluginError
from lms_billing.hookspecs import hookimpl
from lms_billing.ports import CustomerDirectory, ProductCatalog

if TYPE_CHECKING:
    from lms_billing.domain.catalog import ProductProfile
    from lms_billing.domain.customers import CustomerProfile


class DirectoryPlugin:
    """A plugin answering the resolution hooks from a directory and/or a catalog.

    Either may be left out; the hook then returns ``None``, so other plugins are asked.
    """

    def __init__(
        self,
        customers: CustomerDirectory | None = None,
        products: ProductCatalog | None = None,
    ) -> None:
        if customers is None and products is None:
            raise ConfigurationError("directory_plugin needs customers=, products= or both.")
        if customers is not None and not isinstance(customers, CustomerDirectory):
            raise PluginError(
                f"{customers!r} is not a CustomerDirectory (it needs get_customer(external_id)).",
                hook="lms_billing_resolve_customer",
            )
        if products is not None and not isinstance(products, ProductCatalog):
            raise PluginError(
                f"{products!r} is not a ProductCatalog (it needs get_product(external_id)).",
                hook="lms_billing_resolve_product",
            )
        self.customers = customers
        self.products = products

    @hookimpl
    def lms_billing_resolve_customer(self, external_id: str) -> CustomerProfile | None:
        return None if self.customers is None else self.customers.get_customer(external_id)

    @hookimpl
    def lms_billing_resolve_product(self, external_id: str) -> ProductProfile | None:
        return None if self.products is None else self.products.get_product(external_id)

    def __repr__(self) -> str:
        return f"DirectoryPlugin(customers={self.customers!r}, products={self.products!r})"


def directory_plugin(
    *,
    customers: CustomerDirectory | None = None,
    products: ProductCatalog | None = None,
) -> DirectoryPlugin:
    """Wrap a User Service and/or Course Service client as a plugin for ``Billing(plugins=)``.

    :raises ConfigurationError: neither is given.
    :raises PluginError: an object does not satisfy its port.
    """
    return DirectoryPlugin(customers, products)


__all__ = ["DirectoryPlugin", "directory_plugin"]
