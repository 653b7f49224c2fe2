"""Finding an exchange rate among the FX sources plugins register."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from lms_billing.domain.fx import FxRate
from lms_billing.errors import FxRateUnavailableError
from lms_billing.money import currency_code
from lms_billing.ports import FxRates


def find_rate(sources: Sequence[FxRates], base: str, quote: str, at: datetime) -> FxRate:
    """The first rate any source has for ``1 base = rate quote`` at ``at``.

    Sources are asked in plugin order (plugins registered last first). A source answering with
    a rate for another pair is a plugin bug and is ignored rather than trusted.

    :raises FxRateUnavailableError: no source has the pair.
    """
    base, quote = currency_code(base), currency_code(quote)
    for source in sources:
        rate = source.get_rate(base, quote, at)
        if rate is not None and rate.base == base and rate.quote == quote:
            return rate
    raise FxRateUnavailableError(
        f"No exchange rate source has {base}/{quote}; register one with the "
        "lms_billing_fx_rates hook.",
        base=base,
        quote=quote,
        sources=[getattr(source, "name", type(source).__name__) for source in sources],
    )


__all__ = ["find_rate"]
