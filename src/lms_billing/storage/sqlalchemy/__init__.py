"""SQLAlchemy 2 (Core) storage: SQLite by default, PostgreSQL by URL, Alembic migrations."""

from lms_billing.storage.sqlalchemy.engine import (
    DEFAULT_URL,
    create_engine,
    is_sql_url,
    normalize_url,
)
from lms_billing.storage.sqlalchemy.migrate import migrate
from lms_billing.storage.sqlalchemy.storage import SQLAlchemyStorage, SQLAlchemyUnitOfWork

__all__ = [
    "DEFAULT_URL",
    "SQLAlchemyStorage",
    "SQLAlchemyUnitOfWork",
    "create_engine",
    "is_sql_url",
    "migrate",
    "normalize_url",
]
