"""``--app MODULE:NAME`` / ``$LMS_BILLING_APP``: command-line runs with the host's own
configured ``Billing`` (settings, plugins) instead of the defaults."""

from __future__ import annotations

import textwrap
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from subscription_support import seed_monthly_subscriptions

from lms_billing.cli import main
from lms_billing.domain.invoices import InvoiceStatus

AT = ["--at", "2026-04-01T00:00:00+00:00"]


@pytest.fixture
def host_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A service module in the working folder (as a deployment has it) configuring Billing
    with its own invoice series; two subscriptions are due on 2026-04-01."""
    url = f"sqlite:///{tmp_path / 'host.db'}"
    seed_monthly_subscriptions(url, 2, start=datetime(2026, 3, 1, tzinfo=UTC))
    name = f"host_billing_{uuid.uuid4().hex}"  # fresh per test: no cached import
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            f"""
            from lms_billing import Billing
            from lms_billing.domain.numbering import NumberingSeries
            from lms_billing.settings import BillingSettings

            URL = {url!r}
            SETTINGS = BillingSettings(
                invoice_numbering=NumberingSeries(id="invoice", prefix="ACME")
            )


            def create_billing():
                return Billing(URL, settings=SETTINGS, load_entrypoints=False)


            class services:
                billing = create_billing()
            """
        ),
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LMS_BILLING_APP", raising=False)
    monkeypatch.setenv("LMS_BILLING_STORAGE_URL", url)
    return name


def _renewal_numbers(url: str) -> list[str]:
    from lms_billing import Billing

    with Billing(url, load_entrypoints=False) as billing, billing.storage.unit_of_work() as uow:
        invoices = uow.invoices.list(status=InvoiceStatus.OPEN)
    return sorted(i.number or "" for i in invoices if i.billing_reason == "subscription_cycle")


def test_billing_run_uses_the_apps_settings_from_a_factory(
    host_module: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["billing-run", "--app", f"{host_module}:create_billing", *AT]) == 0
    captured = capsys.readouterr()
    assert "2 renewed" in captured.out and "note:" not in captured.err
    numbers = _renewal_numbers(f"sqlite:///{tmp_path / 'host.db'}")
    # The app's series (its prefix; the counter continues the "invoice" series).
    assert len(numbers) == 2 and all(n.startswith("ACME-2026-") for n in numbers)


def test_the_app_can_be_an_instance_named_in_the_environment(
    host_module: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LMS_BILLING_APP", f"{host_module}:services.billing")
    assert main(["billing-run", "--no-collect", *AT]) == 0
    assert _renewal_numbers(f"sqlite:///{tmp_path / 'host.db'}")[0].startswith("ACME-")


def test_without_an_app_the_defaults_are_used_and_the_command_says_so(
    host_module: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["billing-run", "--no-collect", *AT]) == 0
    assert "note: no --app (or $LMS_BILLING_APP): default settings" in capsys.readouterr().err
    assert _renewal_numbers(f"sqlite:///{tmp_path / 'host.db'}")[0].startswith("INV-")


def test_tax_report_runs_with_the_app(host_module: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["tax-report", "--from", "2026-01-01", "--to", "2026-12-31"]
    assert main([*args, "--app", f"{host_module}:create_billing"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("period,") and "note:" not in captured.err


@pytest.mark.parametrize(
    ("app", "message"),
    [
        ("no_colon_here", "--app must look like 'package.module:name'"),
        ("no_such_module_xyz:billing", "module 'no_such_module_xyz' cannot be imported"),
        ("{module}:missing", "has no 'missing'"),
        ("{module}:URL", "is a str, not a Billing instance or a function returning one"),
    ],
)
def test_a_wrong_app_is_a_one_line_configuration_error(
    host_module: str, app: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["billing-run", "--app", app.format(module=host_module), *AT]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error [configuration_error]: ") and message in err
    assert err.count("\n") == 1


def test_app_and_storage_url_exclude_each_other(
    host_module: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'other.db'}"
    args = ["billing-run", "--app", f"{host_module}:create_billing", "--storage-url", url]
    assert main([*args, *AT]) == 1
    assert "--storage-url and --app exclude each other" in capsys.readouterr().err
    assert not (tmp_path / "other.db").exists()


def test_migrate_migrates_the_apps_storage(
    host_module: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate", "--app", f"{host_module}:create_billing"]) == 0
    assert f"({'sqlite:///' + str(tmp_path / 'host.db')})" in capsys.readouterr().out
