"""The host's configured :class:`~lms_billing.Billing` for command-line runs: ``--app``.

A billing run or tax report from the command line must use the service's own settings
(seller, tax engines, numbering) and plugin objects (gateways with their keys), not the
defaults. ``--app MODULE:NAME`` (or ``$LMS_BILLING_APP``) names them, as ``uvicorn main:app``
or ``flask --app`` do: ``NAME`` is a ``Billing`` instance or a callable taking no arguments
that returns one (a factory). The current directory is importable, as with uvicorn.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING

from lms_billing.errors import ConfigurationError

if TYPE_CHECKING:  # imported when used: ``lms-billing version`` stays quick
    from lms_billing.billing import Billing

APP_ENV = "LMS_BILLING_APP"


def app_spec(value: str | None) -> str | None:
    """``--app`` if given, else ``$LMS_BILLING_APP`` (``None``: no app)."""
    return value or os.environ.get(APP_ENV) or None


def load_billing(spec: str) -> Billing:
    """The :class:`Billing` that ``MODULE:NAME`` names (called first if it is a factory).

    :raises ConfigurationError: a malformed spec, a module or name that cannot be imported,
        or something that is not (and does not return) a ``Billing``.
    """
    from lms_billing.billing import Billing

    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigurationError(
            f"--app must look like 'package.module:name', got {spec!r}.", app=spec
        )
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())  # a console script's path lacks the working folder
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(
            f"--app {spec!r}: module {module_name!r} cannot be imported ({exc}).", app=spec
        ) from exc
    target: object = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError as exc:
            raise ConfigurationError(
                f"--app {spec!r}: {module_name!r} has no {attribute!r}.", app=spec
            ) from exc
    if not isinstance(target, Billing) and callable(target):
        target = target()
    if not isinstance(target, Billing):
        raise ConfigurationError(
            f"--app {spec!r} is a {type(target).__name__}, not a Billing instance or a "
            "function returning one.",
            app=spec,
        )
    return target


__all__ = ["APP_ENV", "app_spec", "load_billing"]
