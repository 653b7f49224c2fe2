"""The Python examples in the foundation guides run, in order, as written.

A block whose first line is ``# <name>.py`` is the file the guide tells you to create: it is
written to the working folder (importable) instead of being executed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"

# guide -> number of ```python blocks (a changed count means an example stopped being run)
GUIDES = {
    "money.md": 1,
    "pricing.md": 10,
    "plugins.md": 6,
    "storage.md": 5,
    "testing.md": 4,
}


def _python_blocks(guide: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / guide).read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("guide", sorted(GUIDES))
def test_guide_examples_run(guide: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = _python_blocks(guide)
    assert len(blocks) == GUIDES[guide]
    monkeypatch.chdir(tmp_path)  # examples that create SQLite files create them here
    monkeypatch.syspath_prepend(str(tmp_path))
    namespace: dict[str, object] = {"__name__": f"docs_{guide.removesuffix('.md')}"}
    for index, block in enumerate(blocks):
        file_name = re.fullmatch(r"# (\w+\.py)", block.splitlines()[0].strip())
        if file_name:
            (tmp_path / file_name.group(1)).write_text(block, encoding="utf-8")
            continue
        exec(compile(block, f"{guide}[{index}]", "exec"), namespace)
    for value in namespace.values():  # close what the examples left open
        close = getattr(value, "close", None)
        if type(value).__name__ in {"Billing", "SQLAlchemyStorage", "MemoryStorage"} and close:
            close()


def test_architecture_points_only_to_modules_that_exist() -> None:
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    root = DOCS.parent
    paths = set(re.findall(r"`(lms_billing/[\w/]+(?:\.py)?)`", text))
    assert paths
    missing = [p for p in paths if not (root / "src" / p).exists()]
    assert missing == []


def test_readme_layout_lists_only_folders_that_exist() -> None:
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    layout = readme.split("## Layout", 1)[1].split("```", 2)[1]
    for line in layout.splitlines():
        name = line.strip().split(" ", 1)[0]
        if name.endswith("/") and not name.startswith("src/"):
            top = DOCS.parent / name
            nested = DOCS.parent / "src" / "lms_billing" / name
            assert top.is_dir() or nested.is_dir(), name
    for part in re.findall(r"\b(\w+)/", layout.split("tests/", 1)[1].splitlines()[0]):
        assert (DOCS.parent / "tests" / part).is_dir(), f"tests/{part}/"
    examples = DOCS.parent / "examples"
    if not (examples / "fastapi_app").is_dir():
        assert "planned, not built" in layout  # HTTP adapters are not claimed as shipped


def test_readme_command_table_lists_every_cli_command() -> None:
    from lms_billing.cli import build_parser

    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Command line", 1)[1].split("##", 1)[0]
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert commands
    for command in commands:
        assert f"`lms-billing {command}" in table, command
