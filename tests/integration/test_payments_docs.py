"""The code in docs/payments-service.md runs as written and prints what the guide says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "payments-service.md"


def test_python_blocks_run_and_print_what_the_guide_says(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = GUIDE.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 8
    namespace: dict[str, object] = {"__name__": "docs_payments_service"}
    for index, block in enumerate(blocks):
        exec(compile(block, f"payments-service.md[{index}]", "exec"), namespace)
    printed = capsys.readouterr().out.splitlines()
    expected = [
        "visa 4242 True",
        "card_data_rejected",
        "requires_action redirect_to_url",
        "succeeded 3155",
        "succeeded True",
        "paid",
        "failed insufficient_funds",
        "requires_action redirect_to_url",
        "succeeded",
        "duplicate",
    ]
    assert printed[: len(expected)] == expected
    assert re.fullmatch(r"succeeded \S+ 1900", printed[len(expected)])
    assert printed[len(expected) + 1 :] == ["3000", "USD 4900 172 4728 None"]
