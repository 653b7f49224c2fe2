"""Quotes per second for each price scheme, and catalog writes per second per storage.

    python benchmarks/catalog_pricing.py [--quotes N] [--writes N] [--postgres-url URL]

Prints figures only; nothing here asserts a time. ``price_quote`` is pure, so its figure is
the cost of the pricing rules themselves; the write figures include the idempotency record
and the transaction of each ``create_price`` call (one commit per call, as a service does).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from lms_billing import Billing, TestClock
from lms_billing.domain.catalog import Price, Tier
from lms_billing.domain.fx import FxRate
from lms_billing.domain.pricing import price_quote

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TIERS = (
    Tier(up_to=5, unit_amount=700),
    Tier(up_to=20, unit_amount=650),
    Tier(up_to=None, unit_amount=600, flat_amount=100),
)
PRICES = {
    "flat": Price(product_id="prod_x", currency="USD", unit_amount=4900, created_at=NOW),
    "per_unit": Price(
        product_id="prod_x", currency="USD", scheme="per_unit", unit_amount=1500, created_at=NOW
    ),
    "graduated": Price(
        product_id="prod_x", currency="USD", scheme="graduated", tiers=TIERS, created_at=NOW
    ),
    "volume": Price(
        product_id="prod_x", currency="USD", scheme="volume", tiers=TIERS, created_at=NOW
    ),
    "package": Price(
        product_id="prod_x",
        currency="USD",
        scheme="package",
        unit_amount=9900,
        package_size=4,
        created_at=NOW,
    ),
}
EUR = FxRate(base="USD", quote="EUR", rate=Decimal("0.9217"), as_of=NOW, source="bench")


def rate(label: str, count: int, work: Callable[[int], object]) -> None:
    start = time.perf_counter()
    for i in range(count):
        work(i)
    elapsed = time.perf_counter() - start
    print(f"{label:<44} {count / elapsed:>12,.0f} /s   ({elapsed:.2f} s for {count:,})")


def bench_quotes(count: int) -> None:
    print("price_quote (pure)")
    for scheme, price in PRICES.items():
        rate(f"  {scheme}, USD", count, lambda i, p=price: price_quote(p, 1 + i % 40, "USD"))
    rate(
        "  graduated, converted to EUR",
        count,
        lambda i: price_quote(PRICES["graduated"], 1 + i % 40, "EUR", fx_rate=EUR),
    )


def bench_writes(url: str, count: int) -> None:
    with Billing(url, clock=TestClock(NOW), load_entrypoints=False) as billing:
        product = billing.catalog.create_product(name="Bench", idempotency_key="bench-product")
        rate(
            f"  create_price on {url.split(':', 1)[0]}",
            count,
            lambda i: billing.catalog.create_price(
                product_id=product.id,
                currency="USD",
                unit_amount=100 + i,
                idempotency_key=f"bench-price-{i}",
            ),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quotes", type=int, default=20_000)
    parser.add_argument("--writes", type=int, default=1_000)
    parser.add_argument("--postgres-url", help="also measure writes on this PostgreSQL URL")
    args = parser.parse_args()

    bench_quotes(args.quotes)
    print("catalog writes (one idempotent transaction each)")
    bench_writes("memory://", args.writes)
    with tempfile.TemporaryDirectory() as folder:
        bench_writes(f"sqlite:///{Path(folder) / 'bench.db'}", args.writes)
    if args.postgres_url:
        bench_writes(args.postgres_url, args.writes)


if __name__ == "__main__":
    main()
