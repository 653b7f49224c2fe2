"""Editing drafts through the storage port, and their coupons: the base of
:class:`~lms_billing.services.invoicing.InvoiceService`. Private: use the service.

Coupon conditions that depend on a draft's lines (minimum amounts, product restrictions) are
checked when a coupon is applied and again whenever the lines change and at finalization. A
coupon redeemed on the draft that no longer applies is **taken off and its redemption
released** (the counts go back down), recorded in ``invoice.removed_coupons`` and announced
with an ``invoice.coupon_removed`` event, in the same transaction as the edit. Editing a cart
must keep working; a coupon that silently kept discounting an order below its minimum would
be worse than one that visibly drops off.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from lms_billing.domain.coupons import PromotionCode, normalize_code
from lms_billing.domain.invoices import (
    Invoice,
    RemovedCoupon,
    drop_inapplicable_coupons,
    remove_coupon,
    require_draft,
)
from lms_billing.errors import NotFoundError
from lms_billing.services._context import PendingEvents, ServiceContext, mutate
from lms_billing.services._invoicing_support import redeem_coupon
from lms_billing.services.invoice_queries import InvoiceQueries
from lms_billing.storage.base import UnitOfWork

Change = Callable[[UnitOfWork, Invoice], Invoice]
M = TypeVar("M", bound=BaseModel)

COUPON_REMOVED = "invoice.coupon_removed"


def recheck_coupons(
    uow: UnitOfWork, invoice: Invoice, now: datetime
) -> tuple[Invoice, tuple[RemovedCoupon, ...]]:
    """Take off (and release) the coupons redeemed on ``invoice`` that its lines no longer
    qualify for; see the module docstring."""
    if not invoice.coupons:
        return invoice, ()
    redemptions = uow.coupons.invoice_redemptions(invoice.id)
    if not redemptions:
        return invoice, ()
    codes: dict[str, PromotionCode | None] = {
        r.coupon_id: None
        if r.promotion_code_id is None
        else uow.promotion_codes.get(r.promotion_code_id)
        for r in redemptions
    }
    checked, removed = drop_inapplicable_coupons(invoice, now, codes=codes, only=set(codes))
    for record in removed:
        uow.coupons.release_invoice_redemptions(invoice.id, coupon_id=record.coupon_id)
    return checked, removed


def record_removals(
    events: PendingEvents, invoice: Invoice, removed: Sequence[RemovedCoupon]
) -> None:
    for _ in removed:
        events.record(COUPON_REMOVED, invoice, customer_id=invoice.customer_id)


class InvoiceEditing(InvoiceQueries):
    """Transactions over one invoice, and the coupon calls of the invoice service."""

    def __init__(self, ctx: ServiceContext) -> None:
        super().__init__(ctx)

    def _run(
        self,
        operation: str,
        idempotency_key: str,
        request: Mapping[str, Any],
        execute: Callable[[UnitOfWork, PendingEvents], M],
        model: type[M],
    ) -> M:
        return mutate(
            self._ctx,
            operation=operation,
            idempotency_key=idempotency_key,
            request=request,
            model=model,
            execute=execute,
        )

    def _edit(
        self,
        operation: str,
        invoice_id: str,
        idempotency_key: str,
        request: Mapping[str, Any],
        change: Change,
        event: str = "invoice.updated",
        *,
        lines_changed: bool = False,
    ) -> Invoice:
        """Load, change and save one invoice in one transaction. ``lines_changed``: re-check
        the draft's coupons against its new lines afterwards."""

        def execute(uow: UnitOfWork, events: PendingEvents) -> Invoice:
            updated = change(uow, uow.invoices.get(invoice_id))
            removed: tuple[RemovedCoupon, ...] = ()
            if lines_changed:
                updated, removed = recheck_coupons(uow, updated, self._ctx.clock.now())
            uow.invoices.update(updated)
            events.record(event, updated, customer_id=updated.customer_id)
            record_removals(events, updated, removed)
            return updated

        request = {"invoice_id": invoice_id, **request}
        return self._run(operation, idempotency_key, request, execute, Invoice)

    # --- coupons --------------------------------------------------------------------------

    def apply_coupon(self, invoice_id: str, coupon_id: str, *, idempotency_key: str) -> Invoice:
        """Discount a draft with a coupon and count the redemption, in one transaction.

        :raises CouponExpiredError, CouponExhaustedError, CouponNotApplicableError,
            MinimumAmountNotMetError, CouponCurrencyMismatchError, CouponNotStackableError:
        :raises CouponAlreadyAppliedError: the coupon is already on the draft.
        :raises InvoiceNotEditableError: the invoice is finalized.
        """
        return self._edit(
            "invoices.apply_coupon",
            invoice_id,
            idempotency_key,
            {"coupon_id": coupon_id},
            lambda uow, invoice: redeem_coupon(
                uow, invoice, coupon_id, None, self._ctx.clock.now()
            ),
        )

    def apply_promotion_code(self, invoice_id: str, code: str, *, idempotency_key: str) -> Invoice:
        """Like :meth:`apply_coupon`, by the code a customer typed (any letter case); the
        code's own limits, expiry and restrictions apply too.

        :raises NotFoundError: no such code.
        """
        normalized = normalize_code(code)

        def change(uow: UnitOfWork, invoice: Invoice) -> Invoice:
            promotion = uow.promotion_codes.get_by_code(normalized)
            if promotion is None:
                raise NotFoundError(f"No promotion code {normalized}.", code=normalized)
            return redeem_coupon(
                uow, invoice, promotion.coupon_id, promotion, self._ctx.clock.now()
            )

        return self._edit(
            "invoices.apply_promotion_code",
            invoice_id,
            idempotency_key,
            {"code": normalized},
            change,
        )

    def remove_coupon(self, invoice_id: str, coupon_id: str, *, idempotency_key: str) -> Invoice:
        """Take a coupon off a draft: discounts are re-allocated, the redemption counted for
        this draft is released, and ``removed_coupons`` records it (reason ``requested``).
        Removing a coupon the draft does not have changes nothing.

        :raises InvoiceNotEditableError: the invoice is finalized.
        """
        return self._remove(
            "invoices.remove_coupon", invoice_id, idempotency_key, {"coupon_id": coupon_id}, None
        )

    def remove_promotion_code(self, invoice_id: str, code: str, *, idempotency_key: str) -> Invoice:
        """Take off the coupon a promotion code (any letter case) put on a draft, as
        :meth:`remove_coupon`; a code not used on this draft changes nothing.

        :raises NotFoundError: no such code.
        :raises InvoiceNotEditableError: the invoice is finalized.
        """
        normalized = normalize_code(code)
        request = {"code": normalized}
        return self._remove(
            "invoices.remove_promotion_code", invoice_id, idempotency_key, request, normalized
        )

    def _remove(
        self,
        operation: str,
        invoice_id: str,
        idempotency_key: str,
        request: Mapping[str, str],
        code_text: str | None,
    ) -> Invoice:
        def execute(uow: UnitOfWork, events: PendingEvents) -> Invoice:
            invoice = uow.invoices.get(invoice_id)
            require_draft(invoice)
            redemptions = uow.coupons.invoice_redemptions(invoice.id)
            if code_text is None:
                coupon_id: str | None = request["coupon_id"]
                used = next((r for r in redemptions if r.coupon_id == coupon_id), None)
            else:
                promotion = uow.promotion_codes.get_by_code(code_text)
                if promotion is None:
                    raise NotFoundError(f"No promotion code {code_text}.", code=code_text)
                used = next((r for r in redemptions if r.promotion_code_id == promotion.id), None)
                coupon_id = None if used is None else used.coupon_id
            if coupon_id is None or not any(c.id == coupon_id for c in invoice.coupons):
                return invoice  # nothing to remove: idempotent
            updated = remove_coupon(
                invoice,
                coupon_id,
                self._ctx.clock.now(),
                promotion_code_id=None if used is None else used.promotion_code_id,
            )
            if used is not None:
                uow.coupons.release_invoice_redemptions(invoice.id, coupon_id=coupon_id)
            uow.invoices.update(updated)
            events.record("invoice.updated", updated, customer_id=updated.customer_id)
            record_removals(events, updated, updated.removed_coupons[-1:])
            return updated

        return self._run(
            operation, idempotency_key, {"invoice_id": invoice_id, **request}, execute, Invoice
        )


__all__ = ["COUPON_REMOVED", "InvoiceEditing", "recheck_coupons", "record_removals"]
