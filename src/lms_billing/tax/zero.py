"""The zero-tax engine: the default when no tax engine is configured."""

from __future__ import annotations

from lms_billing.domain.tax import TaxRequest, TaxResult


class ZeroTaxEngine:
    """Computes no tax for any request (``name = "zero"``).

    The default for hosts that handle tax outside lms-billing. It accepts every request, so
    put it last in a chain.
    """

    name = "zero"

    def handles(self, request: TaxRequest) -> bool:
        """Always true: the zero engine is the fallback."""
        return True

    def calculate(self, request: TaxRequest) -> TaxResult:
        """No tax lines, no notes, nothing to review."""
        return TaxResult(engine=self.name)


__all__ = ["ZeroTaxEngine"]
