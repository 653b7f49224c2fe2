"""Event delivery: every registered EventSink and every lms_billing_event hook gets each
committed event once; a failing one is logged and never undoes the commit or starves others."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from lms_billing import Billing, hookimpl
from lms_billing.domain.events import Event
from lms_billing.errors import ConfigurationError, ValidationError
from lms_billing.plugins import BUILTIN_PLUGINS, PluginHost, get_plugin_manager
from lms_billing.plugins.sinks import IN_PROCESS_SINK, InProcessSink


class RecordingSink:
    def __init__(self, name: str = "recording") -> None:
        self.name = name
        self.batches: list[list[Event]] = []

    def publish(self, events: Sequence[Event]) -> None:
        self.batches.append(list(events))

    @property
    def types(self) -> list[str]:
        return [event.type for batch in self.batches for event in batch]


class BrokenSink:
    name = "broken"

    def publish(self, events: Sequence[Event]) -> None:
        raise RuntimeError("webhook endpoint is down")


class Sinks:
    """A plugin contributing sinks through the public registration hook."""

    def __init__(self, *sinks: object) -> None:
        self.sinks = list(sinks)

    @hookimpl
    def lms_billing_event_sinks(self) -> list[object]:
        return list(self.sinks)


class Listener:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.types: list[str] = []

    @hookimpl
    def lms_billing_event(self, event: Event) -> None:
        self.types.append(event.type)
        if self.fail:
            raise RuntimeError("listener bug")


def _billing(*plugins: object) -> Billing:
    return Billing("memory://", plugins=plugins, load_entrypoints=False)


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def billing(sink: RecordingSink) -> Iterator[Billing]:
    with _billing(Sinks(sink)) as opened:
        yield opened


def test_a_plugin_sink_receives_each_committed_call_once(
    billing: Billing, sink: RecordingSink
) -> None:
    product = billing.catalog.create_product(name="Python 101", idempotency_key="p-1")
    assert sink.types == ["product.created"]
    assert sink.batches[0][0].data["object"]["id"] == product.id

    # A replay returns the stored result and announces nothing again.
    billing.catalog.create_product(name="Python 101", idempotency_key="p-1")
    assert sink.types == ["product.created"]


def test_a_rolled_back_call_delivers_nothing(billing: Billing, sink: RecordingSink) -> None:
    with pytest.raises(ValidationError):
        billing.catalog.create_product(name="", idempotency_key="p-bad")
    assert sink.batches == []


def test_the_builtin_in_process_sink_is_a_trylast_plugin() -> None:
    assert "lms_billing.plugins.sinks" in BUILTIN_PLUGINS
    pm = get_plugin_manager(load_entrypoints=False)
    impls = {impl.plugin_name: impl for impl in pm.hook.lms_billing_event_sinks.get_hookimpls()}
    assert impls["lms_billing.plugins.sinks"].trylast
    host = PluginHost(pm)
    assert isinstance(host.event_sinks()[IN_PROCESS_SINK], InProcessSink)
    # One sink per host, so each Billing has its own subscribers.
    other = PluginHost(get_plugin_manager(load_entrypoints=False))
    assert other.in_process_sink() is not host.in_process_sink()
    assert host.in_process_sink() is host.in_process_sink()


def test_subscribers_get_the_events_they_asked_for(billing: Billing) -> None:
    everything: list[str] = []
    prices: list[str] = []
    billing.events.subscribe(lambda event: everything.append(event.type))
    stop = billing.events.subscribe(lambda event: prices.append(event.type), types=["price.*"])

    product = billing.catalog.create_product(name="Python 101", idempotency_key="p-1")
    billing.catalog.create_price(
        product_id=product.id, currency="USD", unit_amount=4900, idempotency_key="pr-1"
    )
    assert everything == ["product.created", "price.created"]
    assert prices == ["price.created"]

    stop()
    stop()  # harmless
    billing.catalog.create_price(
        product_id=product.id, currency="USD", unit_amount=5900, idempotency_key="pr-2"
    )
    assert prices == ["price.created"]
    assert everything[-1] == "price.created" and len(everything) == 3


def test_subscribe_rejects_bad_arguments(billing: Billing) -> None:
    with pytest.raises(ValidationError):
        billing.events.subscribe("not callable")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        billing.events.subscribe(print, types=[])


def test_a_failing_sink_is_logged_and_neither_loses_the_commit_nor_stops_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    before, after = RecordingSink("before"), RecordingSink("after")
    listener = Listener()
    subscribed: list[str] = []
    # Registered last = called first, so the broken sink runs before "before".
    with _billing(listener, Sinks(after), Sinks(BrokenSink(), before)) as billing:
        billing.events.subscribe(lambda event: subscribed.append(event.type))
        with caplog.at_level(logging.ERROR, logger="lms_billing.events"):
            product = billing.catalog.create_product(name="Python 101", idempotency_key="p-1")

        assert billing.catalog.get_product(product.id).name == "Python 101"  # committed
        assert before.types == after.types == subscribed == listener.types == ["product.created"]
    failures = [r for r in caplog.records if r.name == "lms_billing.events"]
    assert len(failures) == 1 and "'broken'" in failures[0].getMessage()
    assert failures[0].exc_info is not None


def test_a_failing_hook_implementation_does_not_stop_the_other_listeners(
    caplog: pytest.LogCaptureFixture, sink: RecordingSink
) -> None:
    healthy, failing = Listener(), Listener(fail=True)
    with (
        _billing(healthy, failing, Sinks(sink)) as billing,
        caplog.at_level(logging.ERROR, logger="lms_billing.events"),
    ):
        billing.catalog.create_product(name="Python 101", idempotency_key="p-1")
    assert failing.types == healthy.types == sink.types == ["product.created"]
    assert any("listener bug" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_a_failing_subscriber_does_not_stop_the_next_one(
    billing: Billing, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    def broken(event: Event) -> None:
        raise KeyError(event.type)

    billing.events.subscribe(broken)
    billing.events.subscribe(lambda event: seen.append(event.type))
    with caplog.at_level(logging.ERROR, logger="lms_billing.events"):
        billing.catalog.create_product(name="Python 101", idempotency_key="p-1")
    assert seen == ["product.created"]
    assert any("broken" in r.getMessage() for r in caplog.records)


def test_listeners_still_run_when_a_plugin_wraps_the_event_hook() -> None:
    calls: list[str] = []

    class Wrapper:
        @hookimpl(wrapper=True)
        def lms_billing_event(self, event: Event) -> Any:
            calls.append("wrapper")
            return (yield)

    listener = Listener()
    with _billing(listener, Wrapper()) as billing:
        billing.catalog.create_product(name="Python 101", idempotency_key="p-1")
    assert calls == ["wrapper"] and listener.types == ["product.created"]


def test_a_plugin_replaces_the_in_process_sink_by_name() -> None:
    mine = RecordingSink(IN_PROCESS_SINK)
    with _billing(Sinks(mine)) as billing:
        assert billing.plugins.event_sinks() == {IN_PROCESS_SINK: mine}
        with pytest.raises(ConfigurationError):
            billing.events.subscribe(print)
        billing.catalog.create_product(name="Python 101", idempotency_key="p-1")
    assert mine.types == ["product.created"]
