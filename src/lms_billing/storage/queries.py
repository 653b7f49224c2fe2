"""The typed query methods every backend's repositories share, written once.

Each mixin maps one repository's public lookups and ``list`` filters onto three primitives a
backend implements (:class:`QueryPrimitives`): ``_get_by`` (one unique column), ``_find``
(several columns, all equal) and ``_list`` (equality filters, ``None`` meaning "any", newest
first, keyset-paginated). Put the backend base class first in the bases so that its
primitives win: ``class SqlProductRepository(_SqlRepository[Product], ProductQueries)``.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Generic, TypeVar

from pydantic import BaseModel

from lms_billing.domain.catalog import Plan, Price, Product
from lms_billing.domain.coupons import Coupon, PromotionCode
from lms_billing.domain.customer_balance import CustomerBalanceTransaction
from lms_billing.domain.customers import Customer
from lms_billing.domain.invoices import Invoice, InvoiceStatus
from lms_billing.domain.payment_records import (
    GatewayCustomerLink,
    Payment,
    Refund,
    StoredPaymentMethod,
    WebhookInboxEntry,
)
from lms_billing.domain.payments import PaymentStatus
from lms_billing.domain.subscription_records import SubscriptionRecord
from lms_billing.domain.subscriptions import SubscriptionStatus
from lms_billing.money import currency_code
from lms_billing.storage.base import DEFAULT_LIST_LIMIT, check_limit

M = TypeVar("M", bound=BaseModel)


class QueryPrimitives(Generic[M]):
    """The primitives the query mixins build on; each backend repository overrides them."""

    def _get_by(self, column: str, value: object) -> M | None:
        raise NotImplementedError

    def _find(self, **values: object) -> M | None:
        raise NotImplementedError

    def _list(
        self, filters: Mapping[str, object], limit: int, starting_after: str | None
    ) -> builtins.list[M]:
        raise NotImplementedError


# generic shapes -----------------------------------------------------------------------------


class PlainListQueries(QueryPrimitives[M]):
    """``list()`` without filters (customers, billing runs)."""

    def list(
        self, *, limit: int = DEFAULT_LIST_LIMIT, starting_after: str | None = None
    ) -> builtins.list[M]:
        return self._list({}, limit, starting_after)


class ActiveListQueries(QueryPrimitives[M]):
    """``list(active=...)`` (products, plans)."""

    def list(
        self,
        *,
        active: bool | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> builtins.list[M]:
        return self._list({"active": active}, limit, starting_after)


class ExternalIdQueries(QueryPrimitives[M]):
    def get_by_external_id(self, external_id: str) -> M | None:
        return self._get_by("external_id", external_id)


class InvoiceDocumentQueries(QueryPrimitives[M]):
    """``list(invoice_id=..., customer_id=...)`` (credit notes, receipts)."""

    def list(
        self,
        *,
        invoice_id: str | None = None,
        customer_id: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> builtins.list[M]:
        filters = {"invoice_id": invoice_id, "customer_id": customer_id}
        return self._list(filters, limit, starting_after)


class IdempotencyKeyQueries(QueryPrimitives[M]):
    def get_by_idempotency_key(self, key: str) -> M | None:
        return self._find(idempotency_key=key)


# catalog ------------------------------------------------------------------------------------


class CustomerQueries(ExternalIdQueries[Customer], PlainListQueries[Customer]):
    pass


class ProductQueries(ExternalIdQueries[Product], ActiveListQueries[Product]):
    pass


class PlanQueries(ActiveListQueries[Plan]):
    pass


class PriceQueries(QueryPrimitives[Price]):
    def get_by_lookup_key(self, lookup_key: str) -> Price | None:
        return self._get_by("lookup_key", lookup_key)

    def list(
        self,
        *,
        product_id: str | None = None,
        active: bool | None = None,
        currency: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> builtins.list[Price]:
        filters = {
            "product_id": product_id,
            "active": active,
            "currency": currency.upper() if currency else None,
        }
        return self._list(filters, limit, starting_after)


# invoicing ----------------------------------------------------------------------------------


class CouponQueries(QueryPrimitives[Coupon]):
    def list(
        self,
        *,
        valid: bool | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> builtins.list[Coupon]:
        return self._list({"valid": valid}, limit, starting_after)


class PromotionCodeQueries(QueryPrimitives[PromotionCode]):
    def get_by_code(self, code: str) -> PromotionCode | None:
        return self._get_by("code", code)

    def list(
        self,
        *,
        coupon_id: str | None = None,
        active: bool | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> builtins.list[PromotionCode]:
        return self._list({"coupon_id": coupon_id, "active": active}, limit, starting_after)


class InvoiceQueries(QueryPrimitives[Invoice]):
    def get_by_number(self, number: str) -> Invoice | None:
        return self._get_by("number", number)

    def list(
        self,
        *,
        customer_id: str | None = None,
        status: InvoiceStatus | None = None,
        subscription_id: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> builtins.list[Invoice]:
        filters = {
            "customer_id": customer_id,
            "status": None if status is None else InvoiceStatus(status).value,
            "subscription_id": subscription_id,
        }
        return self._list(filters, limit, starting_after)


class BalanceQueries(QueryPrimitives[CustomerBalanceTransaction]):
    def list(
        self,
        customer_id: str,
        *,
        currency: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> builtins.list[CustomerBalanceTransaction]:
        check_limit(limit)  # a bad limit is reported before a bad currency
        filters = {
            "customer_id": customer_id,
            "currency": None if currency is None else currency_code(currency),
        }
        return self._list(filters, limit, starting_after)


# subscriptions ------------------------------------------------------------------------------


class SubscriptionQueries(QueryPrimitives[SubscriptionRecord]):
    def list(
        self,
        *,
        customer_id: str | None = None,
        status: SubscriptionStatus | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> builtins.list[SubscriptionRecord]:
        filters = {
            "customer_id": customer_id,
            "status": None if status is None else SubscriptionStatus(status).value,
        }
        return self._list(filters, limit, starting_after)


# payments -----------------------------------------------------------------------------------


class PaymentMethodQueries(QueryPrimitives[StoredPaymentMethod]):
    def get_by_token(self, gateway: str, token: str) -> StoredPaymentMethod | None:
        return self._find(gateway=gateway, token=token)

    def list(
        self,
        *,
        customer_id: str | None = None,
        active: bool | None = True,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> builtins.list[StoredPaymentMethod]:
        return self._list({"customer_id": customer_id, "active": active}, limit, starting_after)


class GatewayCustomerQueries(QueryPrimitives[GatewayCustomerLink]):
    def get_for(self, customer_id: str, gateway: str) -> GatewayCustomerLink | None:
        return self._find(customer_id=customer_id, gateway=gateway)


class PaymentQueries(IdempotencyKeyQueries[Payment]):
    def get_by_gateway_id(self, gateway: str, gateway_payment_id: str) -> Payment | None:
        return self._find(gateway=gateway, gateway_payment_id=gateway_payment_id)

    def list(
        self,
        *,
        invoice_id: str | None = None,
        customer_id: str | None = None,
        status: PaymentStatus | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> builtins.list[Payment]:
        filters = {
            "invoice_id": invoice_id,
            "customer_id": customer_id,
            "status": None if status is None else PaymentStatus(status).value,
        }
        return self._list(filters, limit, starting_after)


class RefundQueries(IdempotencyKeyQueries[Refund]):
    def get_by_gateway_id(self, gateway: str, gateway_refund_id: str) -> Refund | None:
        return self._find(gateway=gateway, gateway_refund_id=gateway_refund_id)

    def list(
        self,
        *,
        payment_id: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
        starting_after: str | None = None,
    ) -> builtins.list[Refund]:
        return self._list({"payment_id": payment_id}, limit, starting_after)


class WebhookInboxQueries(QueryPrimitives[WebhookInboxEntry]):
    def get_by_event(self, gateway: str, event_id: str) -> WebhookInboxEntry | None:
        return self._find(gateway=gateway, event_id=event_id)


__all__ = [
    "ActiveListQueries",
    "BalanceQueries",
    "CouponQueries",
    "CustomerQueries",
    "ExternalIdQueries",
    "GatewayCustomerQueries",
    "IdempotencyKeyQueries",
    "InvoiceDocumentQueries",
    "InvoiceQueries",
    "PaymentMethodQueries",
    "PaymentQueries",
    "PlainListQueries",
    "PlanQueries",
    "PriceQueries",
    "ProductQueries",
    "PromotionCodeQueries",
    "QueryPrimitives",
    "RefundQueries",
    "SubscriptionQueries",
    "WebhookInboxQueries",
]
