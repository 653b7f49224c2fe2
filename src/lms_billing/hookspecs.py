"""Hook specifications: every way a plugin extends lms-billing.

A plugin is any object or module with functions named like these and marked with
``lms_billing.hookimpl``. Third-party packages register through the ``lms_billing``
entry-point group::

    [project.entry-points.lms_billing]
    acme_pay = "acme_pay.plugin"

Hooks are grouped by phase. Registration hooks return lists (every plugin contributes);
resolution hooks are ``firstresult`` and **stop at the first non-None result**; event hooks
are called on every plugin and their results are ignored. The built-in sandbox gateway,
zero-tax engine, storage backends and in-process event sink register through these same
hooks with ``trylast=True``, so a plugin can override them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from lms_billing.domain.catalog import ProductProfile
    from lms_billing.domain.customers import CustomerProfile
    from lms_billing.domain.events import Event
    from lms_billing.domain.notifications import Notification
    from lms_billing.ports import (
        EventSink,
        FraudRule,
        FxRates,
        Notifier,
        PaymentGateway,
        StorageBackend,
        TaxEngine,
    )

PROJECT_NAME = "lms_billing"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# --- registration: providers a plugin contributes ----------------------------------------


@hookspec
def lms_billing_payment_gateways() -> Sequence[PaymentGateway]:
    """Return the payment gateways this plugin provides.

    Each gateway has a unique ``name`` (``"stripe"``, ``"sandbox"``); the host picks one by
    name per payment. Two plugins registering the same name is a configuration error.
    """


@hookspec
def lms_billing_tax_engines() -> Sequence[TaxEngine]:
    """Return the tax engines this plugin provides.

    The host chains engines in the order configured by name (``tax_engines=["eu_vat",
    "stripe_tax"]``); the first engine whose ``handles()`` accepts a request computes it.
    """


@hookspec
def lms_billing_storage_backends() -> Sequence[StorageBackend]:
    """Return storage backends; ``Billing(storage_url=...)`` opens the first that handles
    the URL, trying plugins registered later first (so plugins can override built-ins)."""


@hookspec
def lms_billing_event_sinks() -> Sequence[EventSink]:
    """Return event sinks; every one receives every committed event.

    Each sink has a unique ``name``; a plugin replaces the built-in in-process sink by
    returning one named ``"in_process"``. The host calls ``sink.publish(events)`` once per
    committed call, after the commit, in the calling thread. Delivery is at most once until
    the transactional outbox lands: a sink that raises is logged and not retried (the caller
    and the other sinks are unaffected), and events are lost if the process dies between
    commit and delivery. Make sinks idempotent by ``event.id`` anyway: the outbox will deliver
    at least once.
    """


@hookspec
def lms_billing_fx_rates() -> Sequence[FxRates]:
    """Return exchange-rate sources; they are asked in turn until one has the pair."""


@hookspec
def lms_billing_fraud_rules() -> Sequence[FraudRule]:
    """Return fraud rules evaluated before every payment attempt.

    Every rule runs; the strictest verdict (block > review > allow) wins and every reason is
    recorded on the payment.
    """


@hookspec
def lms_billing_notifiers() -> Sequence[Notifier]:
    """Return notifiers (email, in-app ...) that deliver customer notifications."""


# --- resolution: ask the host's other services -------------------------------------------


@hookspec(firstresult=True)
def lms_billing_resolve_customer(external_id: str) -> CustomerProfile | None:
    """Look up an LMS user or organisation in the host's User Service.

    Stops at the first non-None result.

    :param external_id: the LMS's own id for the user or organisation.
    :return: the profile, or None when this plugin does not know the id.
    """


@hookspec(firstresult=True)
def lms_billing_resolve_product(external_id: str) -> ProductProfile | None:
    """Look up a course, bundle or membership in the host's Course Service.

    Stops at the first non-None result.

    :param external_id: the LMS's own id for the course or bundle.
    :return: the product profile, or None when this plugin does not know the id.
    """


# --- events: react to what happened ------------------------------------------------------


@hookspec
def lms_billing_event(event: Event) -> None:
    """Called for every committed billing event (``invoice.finalized``, ...).

    Runs after the unit of work commits, in the calling thread, before the event sinks. Each
    implementation is called on its own: one that raises is logged (logger
    ``lms_billing.events``) and the others still run; the exception never reaches the caller,
    whose change is committed. Delivery is at most once until the transactional outbox lands
    (nothing is retried or replayed after a crash); be idempotent by ``event.id``, as the
    outbox will deliver at least once.

    :param event: the committed event.
    """


@hookspec
def lms_billing_notification(notification: Notification) -> None:
    """Called for every customer notification the library triggers (receipt ready, trial
    ending, payment failed ...), in addition to the registered notifiers.

    :param notification: what to tell whom, with the data templates need.
    """


__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]
