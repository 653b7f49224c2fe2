"""Alembic migrations shipped inside the package, run programmatically (no alembic.ini)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL, Engine

from lms_billing.storage.sqlalchemy.engine import connection_errors_translated, create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    """An Alembic config whose script location is the migrations folder in this package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine`` to ``revision``, in one transaction.

    :raises StorageUnavailableError: the database cannot be reached (chained to SQLAlchemy's
        error).
    """
    config = alembic_config()
    with connection_errors_translated(engine.url), engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def migrate(url: str | URL, revision: str = "head") -> None:
    """Create or upgrade lms-billing's tables at ``url`` (``lms-billing migrate`` calls this).

    :param url: a SQLite or PostgreSQL storage URL.
    :param revision: the target revision; the latest by default.
    """
    engine = create_engine(url)
    try:
        upgrade(engine, revision)
    finally:
        engine.dispose()


def downgrade(url: str | URL, revision: str) -> None:
    """Downgrade the tables at ``url`` to ``revision`` (``"base"`` drops them all)."""
    engine = create_engine(url)
    try:
        config = alembic_config()
        with connection_errors_translated(engine.url), engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, revision)
    finally:
        engine.dispose()


__all__ = ["MIGRATIONS_DIR", "alembic_config", "downgrade", "migrate", "upgrade"]
