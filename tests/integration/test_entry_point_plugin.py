"""A third-party plugin installed as a package is found through its entry point.

``scripts/test.sh`` installs ``examples/lms_directory_plugin`` (editable); nothing here
registers it by hand.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from lms_billing import Billing
from lms_billing.errors import NotFoundError
from lms_billing.plugins.manager import ENTRY_POINT_GROUP, get_plugin_manager


def test_the_example_plugin_is_installed_under_the_entry_point_group() -> None:
    names = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert "lms_directory" in names


def test_plugin_manager_loads_it_only_when_asked() -> None:
    assert get_plugin_manager().get_plugin("lms_directory") is not None
    assert get_plugin_manager(load_entrypoints=False).get_plugin("lms_directory") is None


def test_billing_uses_the_plugins_hooks() -> None:
    from lms_directory_plugin import plugin

    plugin.received_events.clear()
    with Billing("memory://") as billing:
        org = billing.customers.import_customer("lms-org-7", idempotency_key="imp-org-7")
        course = billing.catalog.import_product("course-python-101", idempotency_key="imp-c")
        price = billing.catalog.create_price(
            product_id=course.id, currency="EUR", unit_amount=4500, idempotency_key="p"
        )
        # The plugin's ECB source converts EUR -> USD and the quote records it.
        quote = billing.catalog.quote(price, currency="USD")

        assert org.name == "Lernwerk GmbH" and org.tax_ids[0].value == "DE136695976"
        assert course.external_id == "course-python-101" and course.name == "Python 101"
        assert quote.subtotal == 4883  # 45.00 EUR * 1.0850 = 48.825 -> 48.83 USD (half-up)
        assert quote.fx_rate is not None and quote.fx_rate.source == "example-ecb"
        assert [e.type for e in plugin.received_events] == [
            "customer.created",
            "product.created",
            "price.created",
        ]
        # Importing again returns the same customer without asking twice or duplicating.
        assert billing.customers.import_customer("lms-org-7", idempotency_key="again") == org
        with pytest.raises(NotFoundError):
            billing.customers.import_customer("lms-user-unknown", idempotency_key="nope")
