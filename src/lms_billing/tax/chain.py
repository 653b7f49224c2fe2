"""Chaining engines: the first engine whose ``handles()`` accepts a request computes it.

``TaxEngineChain([EuVatEngine(), stripe_tax, ZeroTaxEngine()])`` taxes EU customers with the
built-in tables, everyone else with Stripe Tax, and falls back to no tax. Without a fallback,
a request no engine handles returns ``needs_review`` (reason ``no_tax_engine``), never zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lms_billing.domain.tax import TaxRequest, TaxResult
from lms_billing.errors import ConfigurationError, NotFoundError
from lms_billing.ports import TaxEngine


class TaxEngineChain:
    """A :class:`~lms_billing.ports.TaxEngine` that delegates to the first engine that handles
    the request. It handles every request itself, so it can be used wherever one engine is."""

    def __init__(self, engines: Sequence[TaxEngine], *, name: str = "chain") -> None:
        if not engines:
            raise ConfigurationError("A tax engine chain needs at least one engine.")
        self.name = name
        self.engines: tuple[TaxEngine, ...] = tuple(engines)

    def engine_for(self, request: TaxRequest) -> TaxEngine | None:
        """The engine that would compute ``request``, or ``None``."""
        return next((engine for engine in self.engines if engine.handles(request)), None)

    def handles(self, request: TaxRequest) -> bool:
        """Always true: unhandled requests come back as ``needs_review``."""
        return True

    def calculate(self, request: TaxRequest) -> TaxResult:
        """Delegate to the first engine that handles ``request``."""
        engine = self.engine_for(request)
        if engine is None:
            return TaxResult(
                engine=self.name,
                needs_review=True,
                review_reasons=(f"no_tax_engine: {request.customer.country}",),
            )
        return engine.calculate(request)


def chain_by_name(
    available: Mapping[str, TaxEngine], names: Sequence[str], *, name: str = "chain"
) -> TaxEngineChain:
    """Build a chain from configured engine names, e.g. ``PluginHost.tax_engines()`` and
    ``["eu_vat", "stripe_tax", "zero"]``.

    :raises NotFoundError: a configured name is not registered.
    """
    missing = [n for n in names if n not in available]
    if missing:
        raise NotFoundError(
            f"No tax engine named {missing}; registered: {sorted(available)}.", engines=missing
        )
    return TaxEngineChain([available[n] for n in names], name=name)


__all__ = ["TaxEngineChain", "chain_by_name"]
