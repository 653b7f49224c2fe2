"""PayPal reconciliation through the Transaction Search API (``GET /v1/reporting/transactions``).

PayPal reports every balance-affecting transaction with a *transaction event code*
(T-code) whose group says what moved: ``T00nn`` payments (``T0006`` PayPal Checkout),
``T11nn`` reversals (``T1107`` a refund by the merchant), ``T04nn`` bank deposits and
withdrawals (money paid out to the merchant's bank), ``T01nn`` fees, and others. Amounts
are PayPal money objects (decimal strings); ``fee_amount`` is negative. Here a fee is
positive and ``net = amount - fee``, as for Stripe.

How PayPal differs from Stripe, stated where it matters:

* A search covers at most 31 days, so longer ranges are fetched window by window, newest
  first; transactions take up to three hours to appear.
* A PayPal "payout" is a withdrawal (``T04nn``) of part of the balance, not a batch of
  transactions: PayPal does not link transactions to the withdrawal that paid them out, so
  ``list_balance_transactions(payout_id=...)`` is refused with a
  :class:`~lms_billing.errors.ValidationError` instead of answering something wrong.
* Currency conversions are separate ``T02nn`` transactions, so a transaction's
  ``exchange_rate`` is ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from lms_billing.domain.payments import BalanceTransaction, Payout
from lms_billing.errors import ValidationError
from lms_billing.providers.paypal_client import PayPalClient
from lms_billing.providers.paypal_mapping import minor_from_paypal, parse_time

SEARCH_WINDOW = timedelta(days=31)  # PayPal's longest start_date..end_date range
PAGE_SIZE = 500  # PayPal's largest page

_KIND_BY_GROUP = {
    "00": "charge",
    "01": "fee",
    "04": "payout",
    "11": "refund",
    "12": "adjustment",
}
_STATUS = {"S": "available", "P": "pending", "D": "denied", "V": "reversed"}
_PAYOUT_STATUS = {"S": "paid", "P": "pending", "D": "failed", "V": "canceled"}


def kind_of(event_code: str) -> str:
    """Our balance transaction type for a PayPal T-code (``T0006`` -> ``charge``)."""
    return _KIND_BY_GROUP.get(event_code[1:3], "adjustment") if event_code else "adjustment"


def transaction_from_paypal(info: Mapping[str, Any], gateway: str) -> BalanceTransaction:
    """One ``transaction_details[].transaction_info`` as a :class:`BalanceTransaction`."""
    amount, currency = minor_from_paypal(info.get("transaction_amount"))
    fee = -minor_from_paypal(info["fee_amount"])[0] if info.get("fee_amount") else 0
    code = str(info.get("transaction_event_code") or "")
    return BalanceTransaction(
        id=str(info["transaction_id"]),
        gateway=gateway,
        type=kind_of(code),
        amount=amount,
        fee=fee,
        net=amount - fee,
        currency=currency,
        source_id=str(info["transaction_id"]),
        status=_STATUS.get(str(info.get("transaction_status")), "pending"),
        created=parse_time(info.get("transaction_initiation_date")),
    )


def payout_from_paypal(info: Mapping[str, Any], gateway: str) -> Payout:
    """A withdrawal to the bank (``T04nn``, a negative amount) as a :class:`Payout`."""
    amount, currency = minor_from_paypal(info.get("transaction_amount"))
    return Payout(
        id=str(info["transaction_id"]),
        gateway=gateway,
        amount=abs(amount),
        currency=currency,
        status=_PAYOUT_STATUS.get(str(info.get("transaction_status")), "pending"),
        created=parse_time(info.get("transaction_initiation_date")),
        balance_transaction_id=str(info["transaction_id"]),
    )


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PayPalReporting(PayPalClient):
    """The :class:`~lms_billing.ports.ReconciliationSource` side of the PayPal gateway."""

    def _search(self, created_after: datetime | None, limit: int) -> list[dict[str, Any]]:
        """``transaction_info`` objects, newest first, over as many 31-day windows as
        ``created_after`` needs (the last 31 days without it), until ``limit``."""
        end = self._clock.now()
        start = created_after if created_after is not None else end - SEARCH_WINDOW
        found: list[dict[str, Any]] = []
        while end > start and len(found) < limit:
            window_start = max(start, end - SEARCH_WINDOW)
            page = 1
            window: list[dict[str, Any]] = []
            while True:
                options = {
                    "start_date": _stamp(window_start),
                    "end_date": _stamp(end),
                    "fields": "transaction_info",
                    "page_size": PAGE_SIZE,
                    "page": page,
                }
                body = self._json(
                    partial(self.client.transaction_search.search_transactions, options)
                )
                window.extend(
                    detail["transaction_info"]
                    for detail in body.get("transaction_details") or []
                    if detail.get("transaction_info")
                )
                if page >= int(body.get("total_pages") or 1):
                    break
                page += 1
            window.sort(key=lambda info: str(info.get("transaction_initiation_date")), reverse=True)
            found.extend(window)
            end = window_start
        return found[:limit]

    def list_balance_transactions(
        self,
        *,
        created_after: datetime | None = None,
        payout_id: str | None = None,
        limit: int = 100,
    ) -> list[BalanceTransaction]:
        """Balance-affecting transactions (newest first) from Transaction Search.

        :raises ValidationError: ``payout_id`` given: PayPal does not link transactions to
            the withdrawal that paid them out.
        """
        if payout_id is not None:
            raise ValidationError(
                "PayPal does not link transactions to a withdrawal; filter by date instead.",
                gateway=self.name,
                payout_id=payout_id,
            )
        return [
            transaction_from_paypal(info, self.name) for info in self._search(created_after, limit)
        ]

    def list_payouts(
        self, *, created_after: datetime | None = None, limit: int = 100
    ) -> list[Payout]:
        """Withdrawals to the merchant's bank (``T04nn`` debits), newest first."""
        withdrawals = [
            info
            for info in self._search(created_after, max(limit, PAGE_SIZE))
            if kind_of(str(info.get("transaction_event_code") or "")) == "payout"
            and str((info.get("transaction_amount") or {}).get("value", "")).startswith("-")
        ]
        return [payout_from_paypal(info, self.name) for info in withdrawals[:limit]]


__all__ = [
    "PAGE_SIZE",
    "SEARCH_WINDOW",
    "PayPalReporting",
    "kind_of",
    "payout_from_paypal",
    "transaction_from_paypal",
]
