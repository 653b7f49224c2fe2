"""Fixtures of the end-to-end tests: a shop on each SQL backend with the sandbox, Stripe and
PayPal gateways registered (the real SDKs; only HTTP is mocked), and a strict `responses`
mock (every registered call must happen)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

from lms_billing import TestClock
from lms_billing.providers.paypal_gateway import PayPalGateway
from lms_billing.providers.stripe_gateway import StripeGateway

from .support import NOW, PAYPAL_WEBHOOK_ID, STRIPE_SECRET, Shop, make_shop


def open_shop(storage_url: str, **options: object) -> Shop:
    """A shop whose Stripe and PayPal gateways share its test clock."""
    clock = TestClock(NOW)
    stripe_gateway = StripeGateway(
        "sk_test_e2e", webhook_secret=STRIPE_SECRET, max_network_retries=0, clock=clock
    )
    paypal_gateway = PayPalGateway(
        "client-id", "client-secret", webhook_id=PAYPAL_WEBHOOK_ID, clock=clock
    )
    return make_shop(
        storage_url,
        gateways=(stripe_gateway, paypal_gateway),
        clock=clock,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def shop(storage_url: str) -> Iterator[Shop]:
    """A shop on SQLite, then on PostgreSQL."""
    opened = open_shop(storage_url)
    yield opened
    opened.billing.close()


@pytest.fixture
def memory_shop() -> Iterator[Shop]:
    opened = open_shop("memory://")
    yield opened
    opened.billing.close()


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps
