"""``lms-billing billing-run``: renews what is due at --at and prints the counts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from subscription_support import seed_monthly_subscriptions

from lms_billing.cli import EXIT_STUCK, main
from lms_billing.domain.subscription_records import SubscriptionRecord
from lms_billing.services import billing_run


def test_billing_run_command_renews_due_subscriptions_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    seed_monthly_subscriptions(url, 3, start=datetime(2026, 3, 1, tzinfo=UTC))

    args = ["billing-run", "--storage-url", url, "--at", "2026-04-01T00:00:00+00:00"]
    assert main([*args, "--batch-size", "2"]) == 0
    out = capsys.readouterr().out
    assert "3 claimed, 3 renewed" in out and "3 invoices created" in out and "2 batches" in out
    # After the run commits, the new invoices are collected (no card on file: none is paid).
    assert "Collection: " in out and "0 paid" in out
    assert main([*args, "--no-collect"]) == 0  # again at the same instant: nothing is due
    again = capsys.readouterr().out
    assert "0 claimed, 0 renewed" in again and "Collection: " not in again


def test_billing_run_rejects_a_time_without_offset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["migrate", "--storage-url", url]) == 0
    assert main(["billing-run", "--storage-url", url, "--at", "2026-04-01T00:00"]) == 1
    assert main(["billing-run", "--storage-url", url, "--at", "yesterday"]) == 1
    assert "error [validation_error]" in capsys.readouterr().err


def test_billing_run_exits_3_and_says_so_when_subscriptions_are_stuck(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    seed_monthly_subscriptions(url, 2, start=datetime(2026, 3, 1, tzinfo=UTC))
    renew = billing_run._Renewer.renew
    broken: list[str] = []

    def no_progress(self: object, record: SubscriptionRecord, *args: object) -> SubscriptionRecord:
        if not broken or record.id == broken[0]:  # a bug that leaves one row as it was
            broken[:] = [record.id]
            return record
        return renew(self, record, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(billing_run._Renewer, "renew", no_progress)
    args = ["billing-run", "--storage-url", url, "--at", "2026-04-01T00:00:00+00:00"]
    assert main([*args, "--no-collect", "--batch-size", "1"]) == EXIT_STUCK == 3
    captured = capsys.readouterr()
    assert "1 renewed" in captured.out and "1 stuck" in captured.out
    assert "error [billing_run_stuck]: 1 due subscription(s) made no progress" in captured.err
    monkeypatch.setattr(billing_run._Renewer, "renew", renew)
    assert main([*args, "--no-collect"]) == 0  # mended: the next run renews it
    assert "1 renewed, " in capsys.readouterr().out
