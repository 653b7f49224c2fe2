"""Test clocks in the spirit of Stripe's: move simulated time forward and let billing happen.

:class:`BillingSimulator` drives a :class:`~lms_billing.Billing` whose clock is a
:class:`~lms_billing.TestClock`. ``advance(...)`` does not jump straight to the target: it stops
at every instant something is due on the way (a renewal, a trial ending or its 3-day notice, a
collection pause ending, an unpaid first invoice expiring, a dunning retry), and optionally at
regular ``step`` ticks, and at each stop runs exactly what a deployment runs on a schedule::

    billing.subscriptions.run_billing(at)   # lms-billing billing-run
    billing.payments.collect_due(at)        # ... and its collection pass

Each stop is reported as a :class:`SimulationStep`: the run's counts, the collection's counts,
the invoices created, the subscription and invoice status changes, and the events emitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Literal

from lms_billing.billing import Billing
from lms_billing.clock import TestClock, ensure_aware
from lms_billing.domain.billing_cycle import add_interval
from lms_billing.domain.events import Event
from lms_billing.domain.invoices import Invoice
from lms_billing.errors import ConfigurationError, DomainError, ValidationError
from lms_billing.services.billing_run import DEFAULT_BATCH_SIZE, BillingRunResult
from lms_billing.services.dunning_collection import CollectionRunResult
from lms_billing.storage.base import MAX_LIST_LIMIT, every
from lms_billing.testing.recorder import EventRecorder

DEFAULT_MAX_STEPS = 10_000


@dataclass(frozen=True)
class StatusChange:
    """A subscription or invoice whose status changed during one step."""

    object: Literal["subscription", "invoice"]
    id: str
    before: str
    after: str


@dataclass(frozen=True)
class SimulationStep:
    """What happened at one simulated instant."""

    at: datetime
    billing_run: BillingRunResult
    collection: CollectionRunResult | None
    invoices_created: tuple[Invoice, ...]
    status_changes: tuple[StatusChange, ...]
    events: tuple[Event, ...]

    @property
    def event_types(self) -> list[str]:
        return [event.type for event in self.events]

    @property
    def happened(self) -> bool:
        """Whether anything changed: invoices, statuses, events or payment attempts."""
        attempted = self.collection is not None and self.collection.attempted > 0
        return bool(
            self.invoices_created or self.status_changes or self.events or attempted
        ) or bool(self.billing_run.claimed)

    def changes_of(self, object_id: str) -> list[tuple[str, str]]:
        """``(before, after)`` status pairs of one subscription or invoice in this step."""
        return [(c.before, c.after) for c in self.status_changes if c.id == object_id]


@dataclass(frozen=True)
class SimulationReport:
    """Every step of one :meth:`BillingSimulator.advance` call, in time order."""

    steps: tuple[SimulationStep, ...]

    @property
    def at(self) -> datetime:
        """Where the clock stopped."""
        return self.steps[-1].at

    @property
    def invoices_created(self) -> list[Invoice]:
        return [invoice for step in self.steps for invoice in step.invoices_created]

    @property
    def status_changes(self) -> list[StatusChange]:
        return [change for step in self.steps for change in step.status_changes]

    @property
    def events(self) -> list[Event]:
        return [event for step in self.steps for event in step.events]

    @property
    def event_types(self) -> list[str]:
        return [event.type for event in self.events]

    def statuses_of(self, object_id: str) -> list[str]:
        """The statuses one subscription or invoice went through: ``["active",
        "past_due", "active"]`` (the status before the first change comes first)."""
        history: list[str] = []
        for change in self.status_changes:
            if change.id == object_id:
                if not history:
                    history.append(change.before)
                history.append(change.after)
        return history


class BillingSimulator:
    """Advance a billing's :class:`TestClock` step by step, running billing at each step.

    :param billing: a ``Billing`` built with ``clock=TestClock(...)``.
    :param collect: also run ``billing.payments.collect_due`` at each step (charges renewal
        invoices and dunning retries through the gateways; turn off to watch invoices stay
        open).
    :param batch_size: passed to each billing run.
    :param max_steps: a guard against simulations that would never end.
    :raises ConfigurationError: the billing's clock is not a ``TestClock``.
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        billing: Billing,
        *,
        collect: bool = True,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_steps: int = DEFAULT_MAX_STEPS,
    ) -> None:
        if not isinstance(billing.clock, TestClock):
            raise ConfigurationError(
                "BillingSimulator needs a Billing built with clock=TestClock(...), "
                f"not {billing.clock!r}.",
            )
        self.billing = billing
        self.clock: TestClock = billing.clock
        self.collect = collect
        self.batch_size = batch_size
        self.max_steps = max_steps
        self._recorder = EventRecorder().attach(billing)

    # --- moving time --------------------------------------------------------------------

    def advance(
        self,
        delta: timedelta | None = None,
        *,
        months: int = 0,
        days: float = 0,
        hours: float = 0,
        minutes: float = 0,
        seconds: float = 0,
        step: timedelta | None = None,
    ) -> SimulationReport:
        """Move forward by ``delta`` and/or the keyword amounts, stopping on the way.

        ``months`` are calendar months from now (Jan 31 + 1 month = Feb 28), added before the
        other amounts.
        """
        now = self.clock.now()
        if isinstance(months, bool) or not isinstance(months, int) or months < 0:
            raise ValidationError(f"months must be a whole number >= 0, got {months!r}.")
        target = add_interval(now, "month", 1, months) if months else now
        target += (delta or timedelta()) + timedelta(
            days=days, hours=hours, minutes=minutes, seconds=seconds
        )
        return self.advance_to(target, step=step)

    def advance_to(self, moment: datetime, *, step: timedelta | None = None) -> SimulationReport:
        """Move to ``moment`` (not before now), running billing and collection at each stop:

        1. now, to settle what is due already (for example a new subscription's first
           invoice, which waits for the next collection pass); reported only if something
           happened;
        2. every instant something falls due on the way (renewals, trial ends and notices,
           collection pauses ending, first invoices expiring, dunning retries), and with
           ``step`` at least every ``step``;
        3. ``moment`` itself.
        """
        target = ensure_aware(moment, name="moment")
        now = self.clock.now()
        if target < now:
            raise ValidationError(
                "A test clock cannot move backwards.",
                now=now.isoformat(),
                requested=target.isoformat(),
            )
        if step is not None and step <= timedelta(0):
            raise ValidationError("step must be a positive timedelta.", step=str(step))
        steps: list[SimulationStep] = []
        # First settle what is due already (a new subscription's first invoice waits for the
        # next collection pass); the step is reported only when something happened.
        settled = self._run_at(now)
        if settled.happened or target == now:
            steps.append(settled)
        if target == now:
            return SimulationReport(tuple(steps))
        while True:
            if len(steps) >= self.max_steps:
                raise DomainError(
                    f"The simulation needed more than {self.max_steps} steps to reach "
                    f"{target.isoformat()}; raise max_steps or advance in smaller moves.",
                    at=self.clock.now().isoformat(),
                )
            current = self.clock.now()
            stops = [target]
            due = self.next_due(after=current, until=target)
            if due is not None:
                stops.append(due)
            if step is not None:
                stops.append(current + step)
            stop = min(stops)
            steps.append(self._run_at(stop))
            if stop >= target:
                return SimulationReport(tuple(steps))

    def run_now(self) -> SimulationStep:
        """One billing run (and collection) at the clock's current instant."""
        return self._run_at(self.clock.now())

    # --- what is due ----------------------------------------------------------------------

    def next_due(self, *, after: datetime, until: datetime) -> datetime | None:
        """The earliest instant in ``(after, until]`` at which a subscription action or a
        dunning retry is due, or ``None``."""
        earliest: datetime | None = None
        with self.billing.storage.unit_of_work() as uow:
            moments = [record.next_action_at for record in every(uow.subscriptions.list)]
            if self.collect:
                moments += [state.next_retry_at for state in uow.dunning.due(until, MAX_LIST_LIMIT)]
        for moment in moments:
            if moment is not None and after < moment <= until:
                earliest = moment if earliest is None else min(earliest, moment)
        return earliest

    # --- one step -----------------------------------------------------------------------

    def _run_at(self, at: datetime) -> SimulationStep:
        self.clock.set(at)
        before_subs, before_invoices = self._statuses()
        self._recorder.clear()
        run = self.billing.subscriptions.run_billing(at, batch_size=self.batch_size)
        collection = self.billing.payments.collect_due(at) if self.collect else None
        events = tuple(self._recorder.events)
        after_subs, after_invoices = self._statuses()
        changes = [
            StatusChange("subscription", sub_id, before_subs[sub_id], status)
            for sub_id, status in after_subs.items()
            if sub_id in before_subs and before_subs[sub_id] != status
        ]
        changes += [
            StatusChange("invoice", invoice_id, before_invoices[invoice_id][0], status)
            for invoice_id, (status, _) in after_invoices.items()
            if invoice_id in before_invoices and before_invoices[invoice_id][0] != status
        ]
        created = sorted(
            (invoice for invoice_id, (_, invoice) in after_invoices.items()
             if invoice_id not in before_invoices),
            key=lambda invoice: (invoice.created_at, invoice.id),
        )  # fmt: skip
        return SimulationStep(
            at=at,
            billing_run=run,
            collection=collection,
            invoices_created=tuple(created),
            status_changes=tuple(changes),
            events=events,
        )

    def _statuses(self) -> tuple[dict[str, str], dict[str, tuple[str, Invoice]]]:
        with self.billing.storage.unit_of_work() as uow:
            records = every(uow.subscriptions.list)
            subs = {record.id: str(record.subscription.status) for record in records}
            invoices = {inv.id: (str(inv.status), inv) for inv in every(uow.invoices.list)}
        return subs, invoices

    # --- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        """Stop recording events (the billing stays open)."""
        self._recorder.detach()

    def __enter__(self) -> BillingSimulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"BillingSimulator(at={self.clock.now().isoformat()})"


__all__ = [
    "DEFAULT_MAX_STEPS",
    "BillingSimulator",
    "SimulationReport",
    "SimulationStep",
    "StatusChange",
]
