"""Built-in storage backends: URL handling and registration through the plugin hook."""

from __future__ import annotations

from pathlib import Path

import pytest

from lms_billing.errors import ConfigurationError
from lms_billing.plugins.manager import PluginHost, get_plugin_manager
from lms_billing.ports import StorageBackend
from lms_billing.storage import open_storage, plugin
from lms_billing.storage.memory import MemoryStorage
from lms_billing.storage.sqlalchemy import SQLAlchemyStorage, normalize_url


def _host(*plugins: object) -> PluginHost:
    return PluginHost(
        get_plugin_manager([plugin, *plugins], load_entrypoints=False, builtins=False)
    )


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        ("memory://", "memory"),
        ("sqlite:///billing.db", "sqlalchemy"),
        ("sqlite://", "sqlalchemy"),
        ("postgresql://u@db/billing", "sqlalchemy"),
        ("postgresql+psycopg://u@db/billing", "sqlalchemy"),
        ("postgres://u@db/billing", "sqlalchemy"),
    ],
)
def test_hook_offers_a_backend_for_each_builtin_url(url: str, backend: str) -> None:
    assert _host().storage_backend_for(url).name == backend


def test_builtin_backends_satisfy_the_port() -> None:
    backends = plugin.lms_billing_storage_backends()
    assert all(isinstance(backend, StorageBackend) for backend in backends)


def test_unknown_scheme_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        _host().storage_backend_for("mysql://u@db/billing")
    with pytest.raises(ConfigurationError):
        open_storage("mysql://u@db/billing")


def test_a_plugin_backend_overrides_the_builtin() -> None:
    class TunedPostgres:
        name = "tuned-postgres"

        def handles(self, url: str) -> bool:
            return url.startswith("postgresql")

        def open(self, url: str) -> MemoryStorage:
            return MemoryStorage(url)

    class TunedPlugin:
        from lms_billing.hookspecs import hookimpl

        @hookimpl
        def lms_billing_storage_backends(self) -> list[TunedPostgres]:
            return [TunedPostgres()]

    host = _host(TunedPlugin())
    assert host.storage_backend_for("postgresql://u@db/x").name == "tuned-postgres"
    assert host.storage_backend_for("sqlite://").name == "sqlalchemy"


def test_postgres_urls_use_psycopg_3() -> None:
    assert normalize_url("postgresql://u@db/x").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@db/x").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg://u@db/x").drivername == "postgresql+psycopg"


def test_open_storage_returns_the_right_storage(tmp_path: Path) -> None:
    memory = open_storage("memory://")
    assert isinstance(memory, MemoryStorage)
    sqlite = open_storage(f"sqlite:///{tmp_path / 'b.db'}", migrate=True)
    try:
        assert isinstance(sqlite, SQLAlchemyStorage)
        assert (tmp_path / "b.db").exists()
        with sqlite.unit_of_work() as uow:
            assert uow.plans.list() == []
    finally:
        sqlite.close()


def test_in_memory_sqlite_works_for_offline_experiments() -> None:
    storage = open_storage("sqlite://", migrate=True)
    try:
        with storage.unit_of_work() as uow:
            assert uow.customers.list() == []
    finally:
        storage.close()


def test_malformed_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        normalize_url("not a url")


def test_unmigrated_database_says_to_run_migrate(storage_url: str) -> None:
    storage = open_storage(storage_url)
    try:
        with pytest.raises(ConfigurationError, match="migrate"), storage.unit_of_work() as uow:
            uow.products.list()
    finally:
        storage.close()
