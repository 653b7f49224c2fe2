"""How each domain model is stored: key columns for lookups and lists, plus a JSON document.

Backends share these specs so that memory, SQLite and PostgreSQL store exactly the same
things: ``data`` is ``model.model_dump(mode="json")`` (amounts inside stay integer minor
units) and a model is rebuilt with ``model_validate``. Key columns are copies of model fields
that the database must index or constrain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from lms_billing.domain.catalog import Plan, Price, Product
from lms_billing.domain.customers import Customer

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class EntitySpec(Generic[M]):
    """One stored entity type.

    :param table: table (or in-memory collection) name.
    :param model: the pydantic model stored.
    :param label: the human name used in error messages.
    :param key_columns: the model's key-column values, ``id`` included.
    :param unique: key columns (besides ``id``) whose non-null values must be unique.
    :param references: key column -> table whose ``id`` it must name (a foreign key).
    """

    table: str
    model: type[M]
    label: str
    key_columns: Callable[[M], dict[str, Any]]
    unique: tuple[str, ...] = ()
    references: Mapping[str, str] = field(default_factory=dict)

    def dump(self, entity: M) -> dict[str, Any]:
        return entity.model_dump(mode="json")

    def load(self, data: Mapping[str, Any]) -> M:
        return self.model.model_validate(data)

    def dump_json(self, entity: M) -> str:
        """:meth:`dump` as JSON text, encoded by pydantic's (Rust) serializer in one step."""
        return entity.model_dump_json()

    def load_json(self, text: str | bytes) -> M:
        """:meth:`load` from JSON text: pydantic parses and validates it in one step."""
        return self.model.model_validate_json(text)


def utc(moment: datetime) -> datetime:
    """Aware datetimes in UTC (SQLite keeps no offset, so all stored times share one zone)."""
    if moment.tzinfo is None or moment.tzinfo is UTC:  # most are UTC already (models normalize)
        return moment
    return moment.astimezone(UTC)


def _customer_columns(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.id,
        "external_id": customer.external_id,
        "created_at": utc(customer.created_at),
    }


def _product_columns(product: Product) -> dict[str, Any]:
    return {
        "id": product.id,
        "external_id": product.external_id,
        "active": product.active,
        "created_at": utc(product.created_at),
    }


def _price_columns(price: Price) -> dict[str, Any]:
    return {
        "id": price.id,
        "product_id": price.product_id,
        "currency": price.currency,
        "unit_amount": price.unit_amount,
        "active": price.active,
        "lookup_key": price.lookup_key,
        "created_at": utc(price.created_at),
    }


def _plan_columns(plan: Plan) -> dict[str, Any]:
    return {"id": plan.id, "active": plan.active, "created_at": utc(plan.created_at)}


CUSTOMERS: EntitySpec[Customer] = EntitySpec(
    table="customers",
    model=Customer,
    label="customer",
    key_columns=_customer_columns,
    unique=("external_id",),
)
PRODUCTS: EntitySpec[Product] = EntitySpec(
    table="products",
    model=Product,
    label="product",
    key_columns=_product_columns,
    unique=("external_id",),
)
PRICES: EntitySpec[Price] = EntitySpec(
    table="prices",
    model=Price,
    label="price",
    key_columns=_price_columns,
    unique=("lookup_key",),
    references={"product_id": "products"},
)
PLANS: EntitySpec[Plan] = EntitySpec(
    table="plans", model=Plan, label="plan", key_columns=_plan_columns
)

__all__ = ["CUSTOMERS", "PLANS", "PRICES", "PRODUCTS", "EntitySpec", "utc"]
