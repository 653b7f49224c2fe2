"""Shared fixtures: storages on memory, SQLite and a real PostgreSQL server.

PostgreSQL: set ``LMS_BILLING_TEST_POSTGRES_URL`` (a role that may create schemas in that
database) to use an existing server. Otherwise a throwaway cluster is started once per test
session from the PostgreSQL binaries (``/usr/lib/postgresql/*/bin`` or ``PATH``;
``scripts/system-deps.sh`` installs them) and stopped at the end. Every test gets its own
fresh schema.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.engine import make_url

if TYPE_CHECKING:  # imported lazily so one broken module cannot stop every test collecting
    from lms_billing.storage.base import Storage
    from lms_billing.storage.memory import MemoryStorage

POSTGRES_URL_ENV = "LMS_BILLING_TEST_POSTGRES_URL"


# --- throwaway PostgreSQL cluster -----------------------------------------------------------


def _pg_bin(name: str) -> str | None:
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    if candidates:
        return candidates[-1]  # the newest installed major version
    return shutil.which(name)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres_user(command: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root: drop to the `postgres` OS user.
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL admin URL (database ``postgres``) for the whole session."""
    configured = os.environ.get(POSTGRES_URL_ENV)
    if configured:
        yield configured
        return
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.fail(
            "PostgreSQL server binaries (initdb, pg_ctl) were not found in "
            "/usr/lib/postgresql/*/bin or PATH. Install them with `bash scripts/system-deps.sh` "
            f"(apt package `postgresql`) or set {POSTGRES_URL_ENV} to a server URL."
        )
    # Not under pytest's tmp_path: its 0700 parent directory is closed to the postgres user.
    base = Path(tempfile.mkdtemp(prefix="lms-billing-pg-"))
    data_dir, log_file = base / "data", base / "server.log"
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        shutil.chown(base, user="postgres")
    port = _free_port()
    try:
        _run(
            _as_postgres_user(
                [initdb, "-D", str(data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
            )
        )
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={base} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        _run(
            _as_postgres_user(
                [pg_ctl, "-D", str(data_dir), "-l", str(log_file), "-o", options, "-w", "start"]
            )
        )
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(
                _as_postgres_user([pg_ctl, "-D", str(data_dir), "-m", "fast", "-w", "stop"]),
                capture_output=True,
                check=False,
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _admin_execute(admin_url: str, statement: str) -> None:
    import psycopg

    url = make_url(admin_url)
    with psycopg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        dbname=url.database or "postgres",
        autocommit=True,
    ) as connection:
        connection.execute(statement.encode())


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL schema for one test (via ``search_path``), dropped after.

    A schema is ~100x cheaper than CREATE DATABASE; the URL's connections see only it.
    """
    schema = f"lms_billing_test_{uuid.uuid4().hex[:16]}"
    _admin_execute(postgres_server, f'CREATE SCHEMA "{schema}"')
    url = (
        make_url(postgres_server)
        .set(drivername="postgresql+psycopg")
        .update_query_dict({"options": f"-csearch_path={schema}", "application_name": schema})
    )
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        # End this test's leftover sessions (only those: the server may be shared), then drop.
        _admin_execute(
            postgres_server,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE application_name = '{schema}' AND pid <> pg_backend_pid()",
        )
        _admin_execute(postgres_server, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# --- storages -----------------------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'billing.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_url(request: pytest.FixtureRequest) -> str:
    """An empty (unmigrated) SQL database URL: a SQLite file, then PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def memory() -> Iterator[MemoryStorage]:
    """An empty in-memory storage."""
    from lms_billing.storage.memory import MemoryStorage

    storage = MemoryStorage()
    yield storage
    storage.close()


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage(request: pytest.FixtureRequest) -> Iterator[Storage]:
    """A migrated, empty storage on each backend: memory, SQLite, PostgreSQL."""
    from lms_billing.storage import open_storage
    from lms_billing.storage.memory import MemoryStorage

    if request.param == "memory":
        opened: Storage = MemoryStorage()
    else:
        fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
        opened = open_storage(request.getfixturevalue(fixture), migrate=True)
    yield opened
    opened.close()
