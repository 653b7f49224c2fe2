"""Invoicing repositories on the unit of work's SQLAlchemy Core connection.

Coupon and promotion-code redemption counts live in a ``times_redeemed`` column that a
conditional ``UPDATE`` increments; the JSON document's copy is overridden by the column when a
row is read. Numbering uses ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` (SQLite 3.35+,
PostgreSQL): the counter row stays locked until the transaction ends.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.dialects import postgresql, sqlite

from lms_billing.domain.coupons import Coupon, PromotionCode
from lms_billing.domain.credit_notes import CreditNote
from lms_billing.domain.customer_balance import CustomerBalanceTransaction
from lms_billing.domain.invoices import Invoice, InvoiceLine
from lms_billing.domain.receipts import Receipt
from lms_billing.domain.redemptions import CouponRedemption
from lms_billing.errors import CouponExhaustedError
from lms_billing.money import currency_code
from lms_billing.storage.entities import EntitySpec
from lms_billing.storage.entities_invoicing import (
    BALANCE_TRANSACTIONS,
    COUPON_REDEMPTIONS,
    COUPONS,
    CREDIT_NOTES,
    INVOICES,
    PROMOTION_CODES,
    RECEIPTS,
)
from lms_billing.storage.queries import (
    BalanceQueries,
    CouponQueries,
    InvoiceDocumentQueries,
    InvoiceQueries,
    PromotionCodeQueries,
)
from lms_billing.storage.sqlalchemy.repositories import ADVISORY_LOCK_NAMESPACE, _SqlRepository
from lms_billing.storage.sqlalchemy.tables_invoicing import (
    INVOICING_TABLES,
    invoice_lines,
    numbering_counters,
)

M = TypeVar("M", bound=BaseModel)

# Second int4 namespace for customer-balance advisory locks (the first is idempotency keys).
BALANCE_LOCK_NAMESPACE = ADVISORY_LOCK_NAMESPACE + 1
# Third: one lock per customer for coupon redemptions (per-customer and first-purchase rules).
REDEMPTION_LOCK_NAMESPACE = ADVISORY_LOCK_NAMESPACE + 2


class _Repo(_SqlRepository[M]):
    """A repository over one of the invoicing tables."""

    def __init__(self, connection: sa.Connection, spec: EntitySpec[M]) -> None:
        self._conn = connection
        self._spec = spec
        self._table = INVOICING_TABLES[spec.table]
        self._seen: dict[str, int] = {}


class _Counted(_Repo[M]):
    """Coupons and promotion codes: ``times_redeemed`` is a column incremented in SQL."""

    def _select(self) -> sa.Select[Any]:
        table = self._table
        return sa.select(table.c.id, table.c.version, table.c.data, table.c.times_redeemed)

    def _rebuild(self, row: sa.Row[Any]) -> M:
        self._seen.setdefault(row.id, row.version)
        return self._spec.load({**row.data, "times_redeemed": row.times_redeemed})

    def _count(self, entity_id: str, delta: int) -> M:
        table = self._table
        statement = sa.update(table).where(table.c.id == entity_id)
        if delta > 0:
            # The atomic check: on PostgreSQL a concurrent redeemer waits for this row's lock
            # and re-evaluates the WHERE against the committed count, so only one wins the last.
            statement = statement.where(
                sa.or_(
                    table.c.max_redemptions.is_(None),
                    table.c.times_redeemed < table.c.max_redemptions,
                )
            )
        statement = statement.values(
            times_redeemed=sa.func.max(table.c.times_redeemed + delta, 0)
            if self._conn.dialect.name == "sqlite"
            else sa.func.greatest(table.c.times_redeemed + delta, 0),
            version=table.c.version + 1,
        ).returning(table.c.version)
        version = self._conn.execute(statement).scalar()
        if version is None:
            self.get(entity_id)  # NotFoundError when the row does not exist
            raise CouponExhaustedError(
                f"{self._spec.label.capitalize()} {entity_id} has no redemptions left.",
                id=entity_id,
            )
        self._seen[entity_id] = int(version)
        return self.get(entity_id)


class SqlPromotionCodeRepository(_Counted[PromotionCode], PromotionCodeQueries):
    def redeem(self, promotion_code_id: str) -> PromotionCode:
        return self._count(promotion_code_id, 1)


class SqlRedemptionRepository(_Repo[CouponRedemption]):
    def for_invoice(self, invoice_id: str) -> list[CouponRedemption]:
        query = self._select().where(self._table.c.invoice_id == invoice_id)
        return [self._rebuild(row) for row in self._conn.execute(query.order_by("id"))]

    def for_customer(self, customer_id: str) -> list[CouponRedemption]:
        query = self._select().where(self._table.c.customer_id == customer_id)
        return [self._rebuild(row) for row in self._conn.execute(query.order_by("id"))]

    def count(self, coupon_id: str, customer_id: str) -> int:
        table = self._table
        query = sa.select(sa.func.count()).where(
            table.c.coupon_id == coupon_id, table.c.customer_id == customer_id
        )
        return int(self._conn.execute(query).scalar_one())

    def delete(self, redemption_id: str) -> None:
        self._conn.execute(sa.delete(self._table).where(self._table.c.id == redemption_id))


class SqlCouponRepository(_Counted[Coupon], CouponQueries):
    def __init__(
        self,
        connection: sa.Connection,
        redemptions: SqlRedemptionRepository,
        codes: SqlPromotionCodeRepository,
    ) -> None:
        super().__init__(connection, COUPONS)
        self._redemptions = redemptions
        self._codes = codes

    def redeem(self, coupon_id: str) -> Coupon:
        return self._count(coupon_id, 1)

    def record_redemption(self, redemption: CouponRedemption) -> None:
        self._redemptions.add(redemption)

    def lock_customer(self, customer_id: str) -> None:
        if self._conn.dialect.name == "postgresql":
            # Held until commit or rollback. The checks that follow run as new statements
            # under READ COMMITTED, so they see what the previous lock holder committed.
            key = sa.func.hashtext(customer_id)
            self._conn.execute(
                sa.select(sa.func.pg_advisory_xact_lock(REDEMPTION_LOCK_NAMESPACE, key))
            )
        # SQLite: BEGIN IMMEDIATE already holds the database's single write lock.

    def redemption_count(self, coupon_id: str, customer_id: str) -> int:
        return self._redemptions.count(coupon_id, customer_id)

    def customer_redemptions(self, customer_id: str) -> builtins.list[CouponRedemption]:
        return self._redemptions.for_customer(customer_id)

    def invoice_redemptions(self, invoice_id: str) -> builtins.list[CouponRedemption]:
        return self._redemptions.for_invoice(invoice_id)

    def release_invoice_redemptions(
        self, invoice_id: str, *, coupon_id: str | None = None
    ) -> builtins.list[CouponRedemption]:
        released = [
            r
            for r in self._redemptions.for_invoice(invoice_id)
            if coupon_id is None or r.coupon_id == coupon_id
        ]
        for redemption in released:
            self._count(redemption.coupon_id, -1)
            if redemption.promotion_code_id is not None:
                self._codes._count(redemption.promotion_code_id, -1)
            self._redemptions.delete(redemption.id)
        return released


@dataclass(frozen=True)
class _InvoiceHeaderSpec(EntitySpec[Invoice]):
    """Invoices keep their lines in ``invoice_lines``, not in the JSON document."""

    def dump(self, entity: Invoice) -> dict[str, Any]:
        return entity.model_dump(mode="json", exclude={"lines"})

    def dump_json(self, entity: Invoice) -> str:
        return entity.model_dump_json(exclude={"lines"})


SQL_INVOICES = _InvoiceHeaderSpec(
    table=INVOICES.table,
    model=Invoice,
    label=INVOICES.label,
    key_columns=INVOICES.key_columns,
    unique=INVOICES.unique,
    references=INVOICES.references,
)


class SqlInvoiceRepository(_Repo[Invoice], InvoiceQueries):
    def __init__(self, connection: sa.Connection) -> None:
        super().__init__(connection, SQL_INVOICES)

    def _lines(self, invoice_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {i: [] for i in invoice_ids}
        if not invoice_ids:
            return found
        query = (
            sa.select(invoice_lines.c.invoice_id, invoice_lines.c.data)
            .where(invoice_lines.c.invoice_id.in_(invoice_ids))
            .order_by(invoice_lines.c.invoice_id, invoice_lines.c.position)
        )
        for row in self._conn.execute(query):
            found[row.invoice_id].append(row.data)
        return found

    def _rebuild(self, row: sa.Row[Any]) -> Invoice:
        self._seen.setdefault(row.id, row.version)
        return Invoice.model_validate({**row.data, "lines": self._lines([row.id])[row.id]})

    def _write_lines(self, invoice: Invoice) -> None:
        self._conn.execute(sa.delete(invoice_lines).where(invoice_lines.c.invoice_id == invoice.id))
        rows = [
            {
                "id": line.id,
                "invoice_id": invoice.id,
                "position": position,
                "amount": line.amount,
                "currency": invoice.currency,
                "data": line.model_dump(mode="json"),
            }
            for position, line in enumerate(invoice.lines)
        ]
        if rows:
            self._conn.execute(sa.insert(invoice_lines), rows)  # one executemany

    def add(self, entity: Invoice) -> None:
        super().add(entity)
        self._write_lines(entity)

    def update(self, entity: Invoice, *, expected_version: int | None = None) -> int:
        version = super().update(entity, expected_version=expected_version)
        if entity.lines != self._stored_lines(entity.id):
            self._write_lines(entity)
        return version

    def _stored_lines(self, invoice_id: str) -> tuple[InvoiceLine, ...]:
        return tuple(InvoiceLine.model_validate(d) for d in self._lines([invoice_id])[invoice_id])

    def delete(self, invoice_id: str) -> None:
        self.version(invoice_id)  # NotFoundError
        self._conn.execute(sa.delete(invoice_lines).where(invoice_lines.c.invoice_id == invoice_id))
        self._conn.execute(sa.delete(self._table).where(self._table.c.id == invoice_id))

    def customer_has_payments(self, customer_id: str) -> bool:
        table = self._table
        query = sa.select(table.c.id).where(
            table.c.customer_id == customer_id, table.c.amount_paid > 0
        )
        return self._conn.execute(query.limit(1)).first() is not None


class SqlCreditNoteRepository(_Repo[CreditNote], InvoiceDocumentQueries[CreditNote]):
    pass


class SqlReceiptRepository(_Repo[Receipt], InvoiceDocumentQueries[Receipt]):
    pass


class SqlNumberingRepository:
    def __init__(self, connection: sa.Connection) -> None:
        self._conn = connection

    def next(self, series: str, period_key: str, *, start: int = 1) -> int:
        table = numbering_counters
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(table).values(
            series=series, period_key=period_key, last_value=start
        )
        # The first document of a period inserts the row; later ones increment it. Either
        # way the row is locked until commit, so concurrent finalizations queue here.
        statement = insert.on_conflict_do_update(
            index_elements=[table.c.series, table.c.period_key],
            set_={"last_value": table.c.last_value + 1},
        ).returning(table.c.last_value)
        return int(self._conn.execute(statement).scalar_one())

    def current(self, series: str, period_key: str) -> int | None:
        table = numbering_counters
        value = self._conn.execute(
            sa.select(table.c.last_value).where(
                table.c.series == series, table.c.period_key == period_key
            )
        ).scalar()
        return None if value is None else int(value)


class SqlBalanceRepository(_Repo[CustomerBalanceTransaction], BalanceQueries):
    def __init__(self, connection: sa.Connection) -> None:
        super().__init__(connection, BALANCE_TRANSACTIONS)

    def balance(self, customer_id: str, currency: str, *, lock: bool = False) -> int:
        code = currency_code(currency)
        if lock and self._conn.dialect.name == "postgresql":
            key = sa.func.hashtext(f"{customer_id}:{code}")
            self._conn.execute(
                sa.select(sa.func.pg_advisory_xact_lock(BALANCE_LOCK_NAMESPACE, key))
            )
        table = self._table
        total = self._conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(table.c.amount), 0)).where(
                table.c.customer_id == customer_id, table.c.currency == code
            )
        ).scalar_one()
        return int(total)


class SqlInvoicing:
    """The invoicing repositories of one SQL unit of work."""

    def __init__(self, connection: sa.Connection) -> None:
        redemptions = SqlRedemptionRepository(connection, COUPON_REDEMPTIONS)
        self.promotion_codes = SqlPromotionCodeRepository(connection, PROMOTION_CODES)
        self.coupons = SqlCouponRepository(connection, redemptions, self.promotion_codes)
        self.invoices = SqlInvoiceRepository(connection)
        self.credit_notes = SqlCreditNoteRepository(connection, CREDIT_NOTES)
        self.receipts = SqlReceiptRepository(connection, RECEIPTS)
        self.numbering = SqlNumberingRepository(connection)
        self.customer_balance = SqlBalanceRepository(connection)


__all__ = [
    "SqlBalanceRepository",
    "SqlCouponRepository",
    "SqlCreditNoteRepository",
    "SqlInvoiceRepository",
    "SqlInvoicing",
    "SqlNumberingRepository",
    "SqlPromotionCodeRepository",
    "SqlReceiptRepository",
]
