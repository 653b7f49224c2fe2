"""The code in the payments guides runs as written (blocks execute in order, per guide)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[3] / "docs"


@pytest.mark.parametrize("guide", ["payments.md", "writing-a-gateway-plugin.md"])
def test_python_blocks_run(guide: str, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / guide).read_text(), re.S)
    assert blocks
    namespace: dict[str, object] = {"__name__": f"docs_{guide}"}
    for index, block in enumerate(blocks):
        exec(compile(block, f"{guide}[{index}]", "exec"), namespace)
    if guide == "payments.md":
        out = capsys.readouterr().out
        assert "visa 4242 12 2034" in out
        assert "['country_mismatch', 'disposable_email', 'amount_above_review_threshold']" in out
        assert "retry 2026-11-26 past_due" in out
