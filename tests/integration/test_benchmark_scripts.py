"""The benchmark scripts still run and report what they measured (figures are not checked:
performance is read from their output, never asserted in tests)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.slow
def test_billing_run_benchmark_bills_every_subscription_and_prints_its_bounds() -> None:
    script = str(BENCHMARKS / "billing_run.py")
    done = subprocess.run(
        [sys.executable, script, "-n", "30", "--batch-size", "7", "--bounds"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    out = done.stdout
    assert re.search(r"^billing run: 30 invoices in ", out, re.M), out
    assert "floor (Core executemany of the same 30 invoice and 30 line rows)" in out
    # The SQL replay covers every renewed subscription (none is left due after the run's
    # period), and the codec bound decodes each of the 30 renewals' documents.
    assert "the run's statements over 30 subscriptions" in out
    assert "the documents of 30 renewals" in out
    assert re.search(r"^together \d+\.\dx floor: the least one worker", out, re.M), out
