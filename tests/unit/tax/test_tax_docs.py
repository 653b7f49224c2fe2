"""Every Python example in docs/tax.md runs, and printed output matches the doc's comments."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lms_billing import Billing
from lms_billing.demo_tax import TAX_DEMO_SETTINGS

DOC = Path(__file__).resolve().parents[3] / "docs" / "tax.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


@pytest.fixture(scope="module")
def namespace() -> Iterator[dict[str, Any]]:
    """One namespace for the whole page: examples may use ``billing`` like a reader's app."""
    with Billing("memory://", settings=TAX_DEMO_SETTINGS, load_entrypoints=False) as billing:
        yield {"billing": billing, "my_ecb_sources": []}


def test_the_page_has_examples() -> None:
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_example_runs(index: int, namespace: dict[str, Any]) -> None:
    code = BLOCKS[index]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"docs/tax.md block {index}", "exec"), namespace)
    if "print(" in code:
        # The comment lines after the print call are the expected output.
        tail = code[code.rindex("print(") :].splitlines()[1:]
        expected = [line.removeprefix("# ") for line in tail if line.startswith("# ")]
        assert out.getvalue().splitlines()[: len(expected)] == expected
