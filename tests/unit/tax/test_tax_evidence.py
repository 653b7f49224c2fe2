"""Location evidence rules, and that the offline tax package needs no HTTP libraries."""

from __future__ import annotations

import subprocess
import sys

from lms_billing.domain.tax import LocationEvidence
from lms_billing.tax.evidence import assess_location


def test_two_agreeing_pieces_are_enough() -> None:
    result = assess_location(LocationEvidence(ip_country="PT", card_country="PT"), "PT")
    assert result.ok and result.country == "PT" and result.reasons == ()


def test_three_different_countries_never_have_a_majority() -> None:
    evidence = LocationEvidence(billing_country="PT", ip_country="ES", card_country="FR")
    result = assess_location(evidence, "PT", allow_majority=True)
    assert not result.ok and result.reasons[0].startswith("location_evidence_conflict")


def test_required_pieces_are_configurable() -> None:
    evidence = LocationEvidence(billing_country="PT", ip_country="PT")
    assert not assess_location(evidence, "PT", required=3).ok
    assert assess_location(LocationEvidence(billing_country="PT"), "PT", required=1).ok


def test_offline_tax_package_imports_neither_requests_nor_stripe() -> None:
    code = (
        "import sys, lms_billing.tax, lms_billing.tax.plugin; "
        "print('requests' in sys.modules, 'stripe' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
