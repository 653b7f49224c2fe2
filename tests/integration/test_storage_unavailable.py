"""A database that cannot be reached, or drops the connection, surfaces as
StorageUnavailableError (chained to SQLAlchemy's error), never as a raw OperationalError; the
CLI turns it into one line and exit code 1."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import sqlalchemy as sa

from lms_billing import Billing
from lms_billing.cli import main
from lms_billing.errors import BillingError, ProviderUnavailableError, StorageUnavailableError
from lms_billing.storage import migrate, open_storage
from lms_billing.storage.sqlalchemy.storage import SQLAlchemyStorage


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # nothing listens there any more: connections are refused at once


@pytest.fixture
def unreachable_postgres() -> str:
    return f"postgresql+psycopg://billing:s3cret@127.0.0.1:{_closed_port()}/billing"


@pytest.fixture
def missing_folder(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'no-such-folder' / 'billing.db'}"


def _assert_unavailable(raised: pytest.ExceptionInfo[StorageUnavailableError]) -> None:
    error = raised.value
    assert isinstance(error, ProviderUnavailableError)
    assert isinstance(error.__cause__, sa.exc.OperationalError)
    assert error.code == "storage_unavailable"
    assert "s3cret" not in error.message and "s3cret" not in str(error.details)


def test_billing_on_a_sqlite_file_in_a_missing_folder(missing_folder: str) -> None:
    with pytest.raises(StorageUnavailableError) as raised:
        Billing(missing_folder, load_entrypoints=False)
    _assert_unavailable(raised)
    assert raised.value.provider == "sqlite"
    assert raised.value.retryable is False  # the folder will not appear by retrying
    assert "no-such-folder" in raised.value.message


def test_billing_on_an_unreachable_postgres_server(unreachable_postgres: str) -> None:
    with pytest.raises(StorageUnavailableError) as raised:
        Billing(unreachable_postgres, load_entrypoints=False)
    _assert_unavailable(raised)
    assert raised.value.provider == "postgresql" and raised.value.retryable is True
    assert "billing:***@127.0.0.1" in raised.value.message


@pytest.mark.parametrize("which", ["missing_folder", "unreachable_postgres"])
def test_unit_of_work_and_migrate_translate_too(
    which: str, request: pytest.FixtureRequest
) -> None:
    url: str = request.getfixturevalue(which)
    storage = open_storage(url)  # opening connects lazily
    with pytest.raises(StorageUnavailableError) as raised, storage.unit_of_work() as uow:
        uow.products.list()
    _assert_unavailable(raised)
    with pytest.raises(StorageUnavailableError) as raised:
        storage.migrate()
    _assert_unavailable(raised)
    with pytest.raises(StorageUnavailableError) as raised:
        migrate(url)
    _assert_unavailable(raised)
    storage.close()


@pytest.mark.postgres
def test_a_connection_killed_inside_a_unit_of_work(postgres_url: str) -> None:
    storage = SQLAlchemyStorage(postgres_url)
    storage.migrate()
    admin = sa.create_engine(postgres_url)
    try:
        with pytest.raises(StorageUnavailableError) as raised, storage.unit_of_work() as uow:
            assert uow.products.list() == []
            pid = uow.connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            with admin.connect() as other:
                other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
            uow.products.list()
        assert isinstance(raised.value.__cause__, sa.exc.OperationalError)
        # The pool discarded the dead connection: the next unit of work works.
        with storage.unit_of_work() as uow:
            assert uow.products.list() == []
    finally:
        admin.dispose()
        storage.close()


@pytest.mark.parametrize("which", ["missing_folder", "unreachable_postgres"])
@pytest.mark.parametrize("command", [["migrate"], ["billing-run"], ["tax-report"]])
def test_cli_prints_one_line_and_exits_1(
    which: str,
    command: list[str],
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url: str = request.getfixturevalue(which)
    extra = ["--from", "2026-01-01", "--to", "2026-03-31"] if command == ["tax-report"] else []
    assert main([*command, "--storage-url", url, *extra]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error [storage_unavailable]: ")
    assert "Traceback" not in captured.err and "s3cret" not in captured.err


def test_cli_keeps_any_billing_error_on_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(args: object) -> int:
        raise BillingError("first line\n\tsecond line")

    monkeypatch.setattr("lms_billing.cli._cmd_version", broken)
    assert main(["version"]) == 1
    assert capsys.readouterr().err == "error [billing_error]: first line second line\n"
