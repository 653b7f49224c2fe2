"""The README's Python examples run as written (in a temporary folder)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lms_billing.domain.invoices import Invoice

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    before = datetime.now(UTC).year
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    after = datetime.now(UTC).year
    invoice = namespace["invoice"]
    assert isinstance(invoice, Invoice) and invoice.finalized_at is not None
    # The README runs on the real clock: the number carries the year it was finalized in.
    year = invoice.finalized_at.astimezone(UTC).year
    assert year in {before, after}
    assert invoice.number == f"INV-{year}-000001"
    assert invoice.total == 4165  # 49.00 less 15 %
    html = str(namespace["html"])
    assert invoice.number in html and "Lernwerk Academy" in html


def test_readme_claims_no_fixed_year() -> None:
    """Document numbers carry the year they are issued in, so the README must not promise one
    (it said ``INV-2026-000001``, which stops being true on 1 January)."""
    text = README.read_text(encoding="utf-8")
    assert re.findall(r"\b(?:INV|RCT|CN|TAX)-\d{4}-\d+", text) == []
    assert "INV-<year>-000001" in text
