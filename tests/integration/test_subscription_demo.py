"""The demo's subscription simulation: renewals, a coupon for three months, an upgrade."""

from __future__ import annotations

from lms_billing.demo_subscription import run_subscription_demo


def test_simulation_renews_monthly_with_coupon_and_upgrade() -> None:
    lines: list[str] = []
    invoices = run_subscription_demo(lines.append)
    assert [i.number for i in invoices] == [f"SIM-2026-{n:06d}" for n in range(1, 6)]
    # The upgrade invoice: Pro and its prorations, all 20 % off (the credit for unused Basic
    # time is discounted like the Basic it refunds): 0.8 x (3900 - 981 + 2013) = 3946.
    assert [i.total for i in invoices] == [1520, 1520, 3946, 3900, 3900]
    assert all(i.status == "paid" for i in invoices)
    upgrade = invoices[2]
    assert [line.proration for line in upgrade.lines] == [False, True, True]
    text = "\n".join(lines)
    assert "upgrade to Pro" in text
    assert "Unused time on 1 \u00d7 All-access membership (basic)" in text
    assert text.count("billing run renewed 1 subscription(s)") == 4
    # Deterministic: a second run prints the same story.
    again: list[str] = []
    run_subscription_demo(again.append)
    assert again == lines
