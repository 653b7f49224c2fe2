"""The code examples in docs/subscriptions.md run, in order, as written."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "subscriptions.md"


def test_subscriptions_doc_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 6
    for index, block in enumerate(blocks):
        exec(compile(block, f"{DOC.name}[{index}]", "exec"), {})
