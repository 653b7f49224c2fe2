"""Building a plugin manager, and a typed facade over its hooks.

Each :class:`~lms_billing.Billing` owns its plugin manager (no global one built at import
time): an embedded SDK may run several tenants in one process, and tests want a fresh one.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy

from lms_billing import hookspecs
from lms_billing.errors import ConfigurationError, NotFoundError, PluginError
from lms_billing.ports import (
    EventSink,
    FraudRule,
    FxRates,
    Notifier,
    PaymentGateway,
    StorageBackend,
    TaxEngine,
)

if TYPE_CHECKING:
    from lms_billing.domain.catalog import ProductProfile
    from lms_billing.domain.customers import CustomerProfile
    from lms_billing.domain.events import Event
    from lms_billing.domain.notifications import Notification
    from lms_billing.plugins.sinks import InProcessSink

ENTRY_POINT_GROUP = "lms_billing"

# Built-in behaviour is registered through the same hooks third parties use (all trylast).
BUILTIN_PLUGINS: tuple[str, ...] = (
    "lms_billing.storage.plugin",
    "lms_billing.tax.plugin",
    "lms_billing.providers.plugin",
    "lms_billing.plugins.sinks",
)

logger = logging.getLogger("lms_billing.events")

T = TypeVar("T")


def get_plugin_manager(
    plugins: Iterable[object] = (),
    *,
    load_entrypoints: bool = True,
    builtins: bool = True,
) -> pluggy.PluginManager:
    """A new plugin manager with the hookspecs added.

    :param plugins: extra plugin objects or modules to register (registered last, so their
        hooks run first).
    :param load_entrypoints: load installed plugins from the ``lms_billing`` entry-point group.
    :param builtins: register lms-billing's own default plugins.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    if builtins:
        for module_name in BUILTIN_PLUGINS:
            pm.register(importlib.import_module(module_name), name=module_name)
    if load_entrypoints:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for plugin in plugins:
        pm.register(plugin)
    pm.check_pending()
    return pm


def _collect(
    results: Iterable[Sequence[object] | None], protocol: type[Any], hook_name: str
) -> list[Any]:
    # ``type[Any]``: mypy rejects Protocol classes where ``type[T]`` is expected.
    items: list[Any] = []
    for contributed in results:
        if contributed is None:
            continue
        if isinstance(contributed, str | bytes) or not isinstance(contributed, Iterable):
            raise PluginError(
                f"{hook_name} must return a list, got {type(contributed).__name__}.",
                hook=hook_name,
            )
        for item in contributed:
            if not isinstance(item, protocol):
                raise PluginError(
                    f"{hook_name} returned {item!r}, which does not satisfy "
                    f"{protocol.__name__}.",
                    hook=hook_name,
                )
            items.append(item)
    return items


def _by_name(items: Iterable[tuple[T, bool]], kind: str) -> dict[str, T]:
    """Index providers by ``name``; ``items`` pairs each with "comes from a built-in".

    A plugin may replace a built-in by reusing its name (a configured ``eu_vat`` engine, say);
    two plugins, or two built-ins, claiming one name is a configuration error.
    """
    named: dict[str, T] = {}
    builtin: dict[str, bool] = {}
    for item, is_builtin in items:
        name = getattr(item, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"A {kind} has no name: {item!r}.")
        if name in named:
            if is_builtin and not builtin[name]:
                continue  # the plugin's provider overrides the built-in one
            if builtin[name] and not is_builtin:
                named[name], builtin[name] = item, False
                continue
            raise ConfigurationError(
                f"Two plugins register a {kind} named {name!r}.", kind=kind, name=name
            )
        named[name], builtin[name] = item, is_builtin
    return named


def _checked(result: object, kind: type[T], hook_name: str) -> T | None:
    if result is None or isinstance(result, kind):
        return result
    raise PluginError(
        f"{hook_name} returned {type(result).__name__}, not a {kind.__name__} or None.",
        hook=hook_name,
    )


class PluginHost:
    """A typed facade over ``pm.hook``: callers never touch pluggy directly."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        # Registration hooks are asked once: providers such as the sandbox gateway keep state,
        # so every caller must get the same instances. ``refresh()`` after registering more.
        self._providers: dict[str, Any] = {}

    def refresh(self) -> None:
        """Forget cached providers (call after registering plugins on ``pm`` later)."""
        self._providers.clear()

    def _call(self, hook_name: str, **kwargs: Any) -> Any:
        hook: Callable[..., Any] = getattr(self.pm.hook, hook_name)
        return hook(**kwargs)

    def _named(self, hook_name: str, protocol: type[Any], kind: str) -> dict[str, Any]:
        """Call a registration hook plugin by plugin, so built-ins can be told apart."""
        if hook_name in self._providers:
            return dict(self._providers[hook_name])
        contributions: list[tuple[Any, bool]] = []
        # Reverse registration order, as pluggy itself calls hooks: plugins before built-ins.
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            is_builtin = impl.plugin_name in BUILTIN_PLUGINS
            for item in _collect([impl.function()], protocol, hook_name):
                contributions.append((item, is_builtin))
        named = _by_name(contributions, kind)
        self._providers[hook_name] = named
        return dict(named)

    def _listed(self, hook_name: str, protocol: type[Any]) -> list[Any]:
        if hook_name not in self._providers:
            self._providers[hook_name] = _collect(self._call(hook_name), protocol, hook_name)
        return list(self._providers[hook_name])

    # registration hooks ------------------------------------------------------------------

    def payment_gateways(self) -> dict[str, PaymentGateway]:
        return self._named("lms_billing_payment_gateways", PaymentGateway, "payment gateway")

    def payment_gateway(self, name: str) -> PaymentGateway:
        gateways = self.payment_gateways()
        if name not in gateways:
            raise NotFoundError(
                f"No payment gateway named {name!r}; registered: {sorted(gateways)}.",
                gateway=name,
            )
        return gateways[name]

    def tax_engines(self) -> dict[str, TaxEngine]:
        return self._named("lms_billing_tax_engines", TaxEngine, "tax engine")

    def storage_backends(self) -> list[StorageBackend]:
        # pluggy calls the most recently registered plugin first: plugins before built-ins.
        return self._listed("lms_billing_storage_backends", StorageBackend)

    def storage_backend_for(self, url: str) -> StorageBackend:
        for backend in self.storage_backends():
            if backend.handles(url):
                return backend
        scheme = url.split(":", 1)[0]
        raise ConfigurationError(
            f"No storage backend handles URLs of scheme {scheme!r}.", scheme=scheme
        )

    def event_sinks(self) -> dict[str, EventSink]:
        """Every registered sink by name, plugins' before the built-in ``in_process`` one."""
        return self._named("lms_billing_event_sinks", EventSink, "event sink")

    def in_process_sink(self) -> InProcessSink:
        """The built-in in-process sink (``billing.events``).

        :raises ConfigurationError: a plugin replaced it with a sink of its own.
        """
        from lms_billing.plugins.sinks import IN_PROCESS_SINK, InProcessSink

        sink = self.event_sinks().get(IN_PROCESS_SINK)
        if not isinstance(sink, InProcessSink):
            raise ConfigurationError(
                f"The {IN_PROCESS_SINK!r} event sink was replaced by {sink!r}; subscribe "
                "through that plugin instead.",
                sink=IN_PROCESS_SINK,
            )
        return sink

    def fx_rate_sources(self) -> list[FxRates]:
        return self._listed("lms_billing_fx_rates", FxRates)

    def fraud_rules(self) -> list[FraudRule]:
        return self._listed("lms_billing_fraud_rules", FraudRule)

    def notifiers(self) -> list[Notifier]:
        return self._listed("lms_billing_notifiers", Notifier)

    # resolution hooks --------------------------------------------------------------------

    def resolve_customer(self, external_id: str) -> CustomerProfile | None:
        """The first plugin's profile for an LMS user or organisation id, or None.

        :raises PluginError: a plugin answered with something other than a CustomerProfile.
        """
        from lms_billing.domain.customers import CustomerProfile

        result = self._call("lms_billing_resolve_customer", external_id=external_id)
        return _checked(result, CustomerProfile, "lms_billing_resolve_customer")

    def resolve_product(self, external_id: str) -> ProductProfile | None:
        """The first plugin's profile for an LMS course or bundle id, or None.

        :raises PluginError: a plugin answered with something other than a ProductProfile.
        """
        from lms_billing.domain.catalog import ProductProfile

        result = self._call("lms_billing_resolve_product", external_id=external_id)
        return _checked(result, ProductProfile, "lms_billing_resolve_product")

    # event hooks -------------------------------------------------------------------------

    def emit_event(self, event: Event) -> None:
        """Deliver one committed event; see :meth:`emit_events`."""
        self.emit_events((event,))

    def emit_events(self, events: Sequence[Event]) -> None:
        """Deliver committed events to every ``lms_billing_event`` implementation (one call
        per event) and then to every registered :class:`~lms_billing.ports.EventSink` (one
        ``publish`` with all of them, in order).

        Call only after the unit of work that produced them committed. Delivery is at most
        once: nothing is stored, so an event is lost if the process stops before this runs,
        and a hook or sink that raises is logged (logger ``lms_billing.events``) and not
        retried. The failure never reaches the caller, whose change is already committed,
        and never stops the other hooks and sinks.
        """
        batch = list(events)
        if not batch:
            return
        for event in batch:
            self._call_each("lms_billing_event", event, {"event": event})
        for name, sink in self.event_sinks().items():
            try:
                sink.publish(batch)
            except Exception:  # a broken sink must not undo or hide a committed call
                logger.exception(
                    "Event sink %r failed on %d event(s) (first %s, %s); they are not "
                    "redelivered.",
                    name,
                    len(batch),
                    batch[0].id,
                    batch[0].type,
                )

    def _call_each(self, hook_name: str, event: Event, kwargs: dict[str, Any]) -> None:
        """Call every implementation of an event hook on its own, so that one that raises is
        logged and the others still run (pluggy's own loop stops at the first error)."""
        hook = getattr(self.pm.hook, hook_name)
        impls = hook.get_hookimpls()
        if any(impl.wrapper or impl.hookwrapper for impl in impls):
            # Wrappers need pluggy's own call loop; isolation is then all or nothing.
            try:
                hook(**kwargs)
            except Exception:
                logger.exception("%s failed on %s (%s).", hook_name, event.id, event.type)
            return
        for impl in reversed(impls):  # pluggy's order: plugins registered last first
            try:
                impl.function(**{name: kwargs[name] for name in impl.argnames})
            except Exception:
                logger.exception(
                    "%s in plugin %s failed on %s (%s); it is not redelivered.",
                    hook_name,
                    impl.plugin_name,
                    event.id,
                    event.type,
                )

    def notify(self, notification: Notification) -> None:
        self._call("lms_billing_notification", notification=notification)
        for notifier in self.notifiers():
            notifier.notify(notification)


__all__ = ["BUILTIN_PLUGINS", "ENTRY_POINT_GROUP", "PluginHost", "get_plugin_manager"]
