"""Alembic migrations build exactly the schema in tables.py, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from lms_billing.storage import migrate
from lms_billing.storage.sqlalchemy import create_engine
from lms_billing.storage.sqlalchemy.migrate import MIGRATIONS_DIR, alembic_config, downgrade
from lms_billing.storage.sqlalchemy.tables import VERSION_TABLE, metadata


def _schema_diffs(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "version_table": VERSION_TABLE}
            )
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_migrated_schema_equals_metadata(storage_url: str) -> None:
    migrate(storage_url)
    assert _schema_diffs(storage_url) == []


def test_an_empty_database_differs_from_metadata(storage_url: str) -> None:
    # Guards the test above: the comparison does see missing tables.
    assert len(_schema_diffs(storage_url)) >= len(metadata.tables)


def test_migrate_is_repeatable_and_records_head(storage_url: str) -> None:
    migrate(storage_url)
    migrate(storage_url)
    engine = create_engine(storage_url)
    try:
        with engine.connect() as connection:
            tables = set(sa.inspect(connection).get_table_names())
            version = connection.execute(
                sa.text(f"SELECT version_num FROM {VERSION_TABLE}")
            ).scalar_one()
    finally:
        engine.dispose()
    assert tables == {*metadata.tables, VERSION_TABLE}
    # The newest revision file (each issue adds one; they chain 0001 -> 0002 -> ...).
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_downgrade_to_base_drops_every_table(storage_url: str) -> None:
    migrate(storage_url)
    downgrade(storage_url, "base")
    engine = create_engine(storage_url)
    try:
        with engine.connect() as connection:
            assert set(sa.inspect(connection).get_table_names()) <= {VERSION_TABLE}
    finally:
        engine.dispose()


def test_migrations_ship_inside_the_package() -> None:
    # Wheels include them: packages with __init__.py, and *.mako is package data.
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "__init__.py").is_file()
    assert (MIGRATIONS_DIR / "versions" / "__init__.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
