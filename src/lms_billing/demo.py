"""``lms-billing demo``: a small LMS catalog on SQLite, quoted in three currencies and locales,
then an invoice with a promotion code, finalized, paid and written out as HTML and PDF.

Everything runs offline. The exchange rates come from :class:`DemoFxRates`, a fixed table
registered as a plugin exactly as a real rate source would be.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from lms_billing.billing import Billing
from lms_billing.demo_invoice import DEMO_SETTINGS, issue_demo_invoice
from lms_billing.demo_subscription import run_subscription_demo
from lms_billing.demo_tax import run_tax_demo
from lms_billing.domain.catalog import Price, ProductKind
from lms_billing.domain.fx import FxRate
from lms_billing.domain.pricing import Quote
from lms_billing.hookspecs import hookimpl
from lms_billing.money import format_money

CURRENCIES = ("USD", "EUR", "JPY")
LOCALES = ("en_US", "de_DE", "ja_JP")

# Sample USD-based rates, dated so every quote records where its rate came from.
DEMO_RATES = {"EUR": Decimal("0.9217"), "GBP": Decimal("0.7874"), "JPY": Decimal("154.32")}
DEMO_RATES_AS_OF = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)


class DemoFxRates:
    """A fixed USD rate table (``1 USD = rate quote``); inverse pairs are derived."""

    name = "demo-rates"

    def get_rate(self, base: str, quote: str, at: datetime) -> FxRate | None:
        if base == "USD" and quote in DEMO_RATES:
            rate = DEMO_RATES[quote]
        elif quote == "USD" and base in DEMO_RATES:
            rate = (Decimal(1) / DEMO_RATES[base]).quantize(Decimal("0.000001"))
        else:
            return None
        return FxRate(base=base, quote=quote, rate=rate, as_of=DEMO_RATES_AS_OF, source=self.name)


class DemoPlugin:
    """The demo's plugin: contributes the FX source through the public hook."""

    @hookimpl
    def lms_billing_fx_rates(self) -> list[DemoFxRates]:
        return [DemoFxRates()]


def build_catalog(billing: Billing) -> list[tuple[str, Price, int]]:
    """Create the demo catalog (idempotently) and return (label, price, quantity) to quote."""
    catalog = billing.catalog
    python = catalog.create_product(
        name="Python 101",
        kind=ProductKind.COURSE,
        description="Self-paced introduction to Python.",
        external_id="course-python-101",
        idempotency_key="demo:product:python-101",
    )
    data = catalog.create_product(
        name="Data Science with Python",
        kind=ProductKind.COURSE,
        external_id="course-data-science",
        idempotency_key="demo:product:data-science",
    )
    track = catalog.create_product(
        name="Python Career Track",
        kind=ProductKind.BUNDLE,
        bundled_product_ids=[python.id, data.id],
        idempotency_key="demo:product:career-track",
    )
    team = catalog.create_product(
        name="Team Membership",
        kind=ProductKind.MEMBERSHIP,
        description="All courses for your team, billed per seat.",
        idempotency_key="demo:product:team-membership",
    )
    mentoring = catalog.create_product(
        name="Mentor sessions",
        kind=ProductKind.ADD_ON,
        idempotency_key="demo:product:mentoring",
    )
    course_price = catalog.create_price(
        product_id=python.id,
        currency="USD",
        unit_amount=4900,
        currency_options={"EUR": {"unit_amount": 4500}, "JPY": {"unit_amount": 7500}},
        tax_behavior="exclusive",
        lookup_key="python-101-once",
        idempotency_key="demo:price:python-101",
    )
    track_price = catalog.create_price(
        product_id=track.id,
        currency="USD",
        unit_amount=12900,
        lookup_key="career-track-once",
        idempotency_key="demo:price:career-track",
    )
    seats_price = catalog.create_price(
        product_id=team.id,
        currency="USD",
        scheme="graduated",
        tiers=[
            {"up_to": 5, "unit_amount": 1500},
            {"up_to": 20, "unit_amount": 1200},
            {"up_to": None, "unit_amount": 900},
        ],
        recurring={"interval": "month", "interval_count": 1},
        lookup_key="team-seat-monthly",
        idempotency_key="demo:price:team-seats",
    )
    mentoring_price = catalog.create_price(
        product_id=mentoring.id,
        currency="USD",
        scheme="package",
        unit_amount=9900,
        package_size=4,
        recurring={"interval": "month", "interval_count": 1},
        lookup_key="mentoring-4-pack",
        idempotency_key="demo:price:mentoring",
    )
    catalog.create_plan(
        name="Team Pro monthly",
        price_ids=[seats_price.id, mentoring_price.id],
        idempotency_key="demo:plan:team-pro",
    )
    return [
        ("Python 101 (one-time)", course_price, 1),
        ("Python Career Track (bundle)", track_price, 1),
        ("Team Membership, 12 seats / month", seats_price, 12),
        ("Mentor sessions, 6 / month (packs of 4)", mentoring_price, 6),
    ]


def run_demo(
    storage_url: str, echo: Callable[[str], None] = print, *, out: Path | None = None
) -> list[Quote]:
    """Build the catalog on ``storage_url`` and print every quote; returns the quotes.

    With ``out``, also invoice a learner (course + seats, promotion code), pay the invoice
    and write the invoice and receipt as HTML and PDF into that folder.
    """
    quotes: list[Quote] = []
    plugins = [DemoPlugin()]
    with Billing(storage_url=storage_url, plugins=plugins, settings=DEMO_SETTINGS) as billing:
        items = build_catalog(billing)
        products = billing.catalog.list_products()
        plans = billing.catalog.list_plans()
        echo(f"Catalog on {storage_url}: {len(products)} products, {len(plans)} plan(s).")
        for label, price, quantity in items:
            echo("")
            echo(label)
            for currency in CURRENCIES:
                quote = billing.catalog.quote(price, quantity=quantity, currency=currency)
                quotes.append(quote)
                amounts = "   ".join(
                    f"{locale}: {format_money(quote.total_money, locale)}" for locale in LOCALES
                )
                source = (
                    f"  (converted: 1 {quote.fx_rate.base} = {quote.fx_rate.rate} "
                    f"{quote.fx_rate.quote}, {quote.fx_rate.source})"
                    if quote.fx_rate
                    else ""
                )
                echo(f"  {currency}  {amounts}{source}")
        if out is not None:
            course, seats = items[0][1], items[2][1]
            issue_demo_invoice(billing, course, seats, out, echo)
    run_tax_demo(out, echo)  # EU B2C, EU B2B reverse charge and US sales tax
    run_subscription_demo(echo)  # a learner's membership over five simulated months
    return quotes


__all__ = ["DemoFxRates", "DemoPlugin", "build_catalog", "run_demo"]
