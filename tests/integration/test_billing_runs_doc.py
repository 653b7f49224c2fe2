"""The code examples in docs/billing-runs.md run, in order, as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lms_billing.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "billing-runs.md"


def test_billing_runs_doc_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 4
    namespace: dict[str, object] = {}
    for index, block in enumerate(blocks):
        exec(compile(block, f"{DOC.name}[{index}]", "exec"), namespace)


def test_the_documented_app_module_works_with_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (block,) = [
        b
        for b in re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
        if b.startswith("# myservice/billing.py")
    ]
    package = tmp_path / "myservice_doc_example"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "billing.py").write_text(block, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LMS_BILLING_STORAGE_URL", f"sqlite:///{tmp_path / 'svc.db'}")
    assert main(["billing-run", "--app", "myservice_doc_example.billing:create_billing"]) == 0
    captured = capsys.readouterr()
    assert "0 claimed" in captured.out and "note:" not in captured.err


def test_the_kubernetes_example_is_the_cronjob_the_runbook_shows() -> None:
    text = DOC.read_text(encoding="utf-8")
    shown = re.search(r"\*\*Kubernetes CronJob\*\*[^\n]*\n\n```yaml\n(.*?)```", text, re.S)
    assert shown is not None
    example = DOC.parents[1] / "examples" / "k8s" / "billing-run-cronjob.yaml"
    lines = example.read_text(encoding="utf-8").splitlines(keepends=True)
    assert "".join(line for line in lines if not line.startswith("#")) == shown.group(1)
    assert '"--app", "myservice.billing:create_billing"' in shown.group(1)
