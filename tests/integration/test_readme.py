"""The README's Python examples run as written (in a temporary folder)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    invoice = namespace["invoice"]
    assert invoice.number == "INV-2026-000001"  # type: ignore[attr-defined]
    assert invoice.total == 4165  # type: ignore[attr-defined]  # 49.00 less 15 %
    html = str(namespace["html"])
    assert "INV-2026-000001" in html and "Lernwerk Academy" in html
