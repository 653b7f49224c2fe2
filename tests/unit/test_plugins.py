"""The plugin system: hookspecs, the manager factory and the typed host facade."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pluggy
import pytest

from lms_billing import hookimpl, hookspecs
from lms_billing.domain.catalog import ProductProfile
from lms_billing.domain.customers import CustomerProfile
from lms_billing.domain.fx import FxRate
from lms_billing.errors import ConfigurationError, NotFoundError, PluginError
from lms_billing.plugins import PluginHost, directory_plugin, get_plugin_manager


def _hookspecs() -> list[tuple[str, Any]]:
    return [
        (name, fn)
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("lms_billing_")
    ]


def test_hookspecs_are_registered_and_prefixed() -> None:
    pm = get_plugin_manager(builtins=False, load_entrypoints=False)
    names = {name for name, _ in _hookspecs()}
    assert names
    for name in names:
        assert hasattr(pm.hook, name)
    module_functions = {
        name
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if fn.__module__ == hookspecs.__name__
    }
    assert module_functions == names, "every hook function must carry the lms_billing_ prefix"


@pytest.mark.parametrize(("name", "spec"), _hookspecs())
def test_every_hook_and_argument_is_documented(name: str, spec: Any) -> None:
    # Copied from datasette: an undocumented hook or argument fails the build.
    doc = inspect.getdoc(spec)
    assert doc, f"{name} has no docstring"
    for argument in inspect.signature(spec).parameters:
        assert f":param {argument}:" in doc, f"{name} does not document {argument}"
    if getattr(spec, "lms_billing_spec", {}).get("firstresult"):
        assert "Stops at the first non-None result" in doc


def test_each_call_builds_a_fresh_manager() -> None:
    first = get_plugin_manager(load_entrypoints=False)
    second = get_plugin_manager(load_entrypoints=False)
    assert first is not second

    class Plugin:
        @hookimpl
        def lms_billing_resolve_customer(self, external_id: str) -> CustomerProfile:
            return CustomerProfile(external_id=external_id)

    first.register(Plugin())
    assert PluginHost(first).resolve_customer("u1") is not None
    assert PluginHost(second).resolve_customer("u1") is None


def test_unknown_hook_in_a_plugin_is_rejected() -> None:
    class Typo:
        @hookimpl
        def lms_billing_resolve_custmer(self, external_id: str) -> None:
            return None

    with pytest.raises(pluggy.PluginValidationError):
        get_plugin_manager([Typo()], builtins=False, load_entrypoints=False)


def test_firstresult_resolution_stops_at_first_non_none() -> None:
    calls: list[str] = []

    class Knows:
        @hookimpl
        def lms_billing_resolve_customer(self, external_id: str) -> CustomerProfile | None:
            calls.append("knows")
            return CustomerProfile(external_id=external_id, name="From Knows")

    class DoesNotKnow:
        @hookimpl
        def lms_billing_resolve_customer(self, external_id: str) -> CustomerProfile | None:
            calls.append("unknown")
            return None

    class Shadowed:
        @hookimpl(trylast=True)
        def lms_billing_resolve_customer(self, external_id: str) -> CustomerProfile | None:
            calls.append("shadowed")
            return CustomerProfile(external_id=external_id, name="Shadowed")

    host = PluginHost(
        get_plugin_manager(
            [Shadowed(), Knows(), DoesNotKnow()], builtins=False, load_entrypoints=False
        )
    )
    profile = host.resolve_customer("lms-user-1")
    assert profile is not None and profile.name == "From Knows"
    assert calls == ["unknown", "knows"]


class _Rates:
    def __init__(self, name: str, rate: str | None) -> None:
        self.name = name
        self.rate = rate

    def get_rate(self, base: str, quote: str, at: datetime) -> FxRate | None:
        if self.rate is None:
            return None
        return FxRate(base=base, quote=quote, rate=Decimal(self.rate), as_of=at, source=self.name)


def test_registration_hooks_collect_from_every_plugin() -> None:
    class A:
        @hookimpl
        def lms_billing_fx_rates(self) -> list[_Rates]:
            return [_Rates("a", None)]

    class B:
        @hookimpl
        def lms_billing_fx_rates(self) -> list[_Rates]:
            return [_Rates("b", "1.1")]

    host = PluginHost(get_plugin_manager([A(), B()], builtins=False, load_entrypoints=False))
    assert sorted(source.name for source in host.fx_rate_sources()) == ["a", "b"]


def test_objects_breaking_the_protocol_are_reported() -> None:
    class Broken:
        @hookimpl
        def lms_billing_fx_rates(self) -> list[object]:
            return [object()]

    host = PluginHost(get_plugin_manager([Broken()], builtins=False, load_entrypoints=False))
    with pytest.raises(PluginError):
        host.fx_rate_sources()

    class NotAList:
        @hookimpl
        def lms_billing_fx_rates(self) -> _Rates:
            return _Rates("x", "1")

    host = PluginHost(get_plugin_manager([NotAList()], builtins=False, load_entrypoints=False))
    with pytest.raises(PluginError):
        host.fx_rate_sources()


class _Sink:
    def __init__(self, name: str) -> None:
        self.name = name
        self.published: list[object] = []

    def publish(self, events: Any) -> None:
        self.published.extend(events)


def test_duplicate_provider_names_are_a_configuration_error() -> None:
    class One:
        @hookimpl
        def lms_billing_event_sinks(self) -> list[_Sink]:
            return [_Sink("webhooks")]

    class Two:
        @hookimpl
        def lms_billing_event_sinks(self) -> list[_Sink]:
            return [_Sink("webhooks")]

    host = PluginHost(get_plugin_manager([One(), Two()], builtins=False, load_entrypoints=False))
    with pytest.raises(ConfigurationError):
        host.event_sinks()


def test_a_plugin_replaces_a_builtin_provider_of_the_same_name() -> None:
    class ConfiguredZero:
        name = "zero"

        def handles(self, request: Any) -> bool:
            return True

        def calculate(self, request: Any) -> Any:
            raise AssertionError("not called here")

    engine = ConfiguredZero()

    class Override:
        @hookimpl
        def lms_billing_tax_engines(self) -> list[ConfiguredZero]:
            return [engine]

    host = PluginHost(get_plugin_manager([Override()], load_entrypoints=False))
    engines = host.tax_engines()
    assert engines["zero"] is engine
    assert "eu_vat" in engines  # the other built-ins stay


def test_unknown_gateway_and_storage_scheme_are_typed_errors() -> None:
    host = PluginHost(get_plugin_manager(builtins=False, load_entrypoints=False))
    with pytest.raises(NotFoundError):
        host.payment_gateway("stripe")
    with pytest.raises(ConfigurationError):
        host.storage_backend_for("mongodb://localhost/billing")


def test_event_hooks_reach_every_plugin() -> None:
    from lms_billing.domain.events import Event

    seen: list[str] = []

    class Listener:
        def __init__(self, tag: str) -> None:
            self.tag = tag

        @hookimpl
        def lms_billing_event(self, event: Event) -> None:
            seen.append(f"{self.tag}:{event.type}")

    host = PluginHost(
        get_plugin_manager(
            [Listener("a"), Listener("b")], builtins=False, load_entrypoints=False
        )
    )
    host.emit_event(
        Event(id="evt_1", type="invoice.finalized", created_at=datetime(2026, 1, 1, tzinfo=UTC))
    )
    assert sorted(seen) == ["a:invoice.finalized", "b:invoice.finalized"]


def test_providers_are_created_once_per_host_so_their_state_survives() -> None:
    host = PluginHost(get_plugin_manager(load_entrypoints=False))
    assert host.payment_gateway("sandbox") is host.payment_gateway("sandbox")
    assert host.tax_engines()["zero"] is host.tax_engines()["zero"]

    class Late:
        @hookimpl
        def lms_billing_event_sinks(self) -> list[_Sink]:
            return [_Sink("late")]

    assert "late" not in host.event_sinks()
    host.pm.register(Late())
    host.refresh()
    assert "late" in host.event_sinks()


# --- LMS service clients as plugins (CustomerDirectory, ProductCatalog) --------------------


class _UserService:
    def get_customer(self, external_id: str) -> CustomerProfile | None:
        if external_id == "lms-user-42":
            return CustomerProfile(external_id=external_id, name="Ada", email="ada@example.org")
        return None


class _CourseService:
    def get_product(self, external_id: str) -> ProductProfile | None:
        if external_id == "course-101":
            return ProductProfile(external_id=external_id, name="Python 101")
        return None


def test_directory_plugin_answers_the_resolution_hooks_from_lms_clients() -> None:
    from lms_billing import Billing

    plugin = directory_plugin(customers=_UserService(), products=_CourseService())
    with Billing("memory://", plugins=[plugin], load_entrypoints=False) as billing:
        customer = billing.customers.import_customer("lms-user-42", idempotency_key="c")
        product = billing.catalog.import_product("course-101", idempotency_key="p")
        assert (customer.name, product.name) == ("Ada", "Python 101")
        with pytest.raises(NotFoundError):
            billing.customers.import_customer("lms-user-7", idempotency_key="c7")
    host = PluginHost(
        get_plugin_manager(
            [directory_plugin(products=_CourseService())], builtins=False, load_entrypoints=False
        )
    )
    assert host.resolve_customer("lms-user-42") is None  # no directory: other plugins decide


def test_directory_plugin_checks_its_ports() -> None:
    with pytest.raises(ConfigurationError):
        directory_plugin()
    with pytest.raises(PluginError):
        directory_plugin(customers=_CourseService())  # type: ignore[arg-type]
    with pytest.raises(PluginError):
        directory_plugin(products=object())  # type: ignore[arg-type]


def test_a_resolution_hook_returning_the_wrong_type_is_a_plugin_error() -> None:
    class Sloppy:
        @hookimpl
        def lms_billing_resolve_customer(self, external_id: str) -> dict[str, str]:
            return {"external_id": external_id}

    host = PluginHost(get_plugin_manager([Sloppy()], builtins=False, load_entrypoints=False))
    with pytest.raises(PluginError):
        host.resolve_customer("lms-user-1")
