"""The ``lms-billing`` command line: ``demo``, ``migrate``, ``billing-run``, ``tax-report``,
``version``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lms_billing._version import __version__
from lms_billing.billing import DEFAULT_STORAGE_URL
from lms_billing.cli_app import APP_ENV
from lms_billing.errors import BillingError

if TYPE_CHECKING:
    from lms_billing.billing import Billing

STORAGE_URL_ENV = "LMS_BILLING_STORAGE_URL"
# billing-run: the run finished but left due subscriptions it could not move forward (1 is
# kept for errors that stopped a command, 2 for usage errors from argparse).
EXIT_STUCK = 3


def _storage_url(value: str | None) -> str:
    return value or os.environ.get(STORAGE_URL_ENV) or DEFAULT_STORAGE_URL


def _open_billing(args: argparse.Namespace) -> Billing:
    """The host's ``Billing`` from ``--app`` / ``$LMS_BILLING_APP``; without one, a default
    ``Billing`` on ``--storage-url`` (see :func:`_note_defaults`)."""
    from lms_billing.billing import Billing
    from lms_billing.cli_app import app_spec, load_billing
    from lms_billing.errors import ConfigurationError

    spec = app_spec(args.app)
    if spec is None:
        return Billing(_storage_url(args.storage_url), auto_migrate=False)
    if args.storage_url:
        raise ConfigurationError(
            "--storage-url and --app exclude each other: the app opens its own storage."
        )
    return load_billing(spec)


def _note_defaults(args: argparse.Namespace) -> None:
    """After a command that ran without an app, say that the defaults were used (after:
    a failure stays the one line :func:`main` prints)."""
    from lms_billing.cli_app import app_spec

    if app_spec(args.app) is None:
        print(
            f"note: no --app (or ${APP_ENV}): default settings (no seller, zero tax, "
            "INV-<year>-000001 numbers) and installed plugins only.",
            file=sys.stderr,
        )


def _cmd_demo(args: argparse.Namespace) -> int:
    from lms_billing.demo import run_demo

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    url = args.storage_url or f"sqlite:///{(out / 'demo.db').as_posix()}"
    run_demo(url, out=out)
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    with _open_billing(args) as billing:  # the app's storage (and its backend plugins)
        storage = billing.storage
        storage.migrate()
    # storage.url, not url: the SQLAlchemy storage hides the password.
    print(f"Schema is up to date on {storage.name} storage ({storage.url}).")
    return 0


def _cmd_billing_run(args: argparse.Namespace) -> int:
    from datetime import datetime

    from lms_billing.clock import ensure_aware
    from lms_billing.errors import ValidationError

    at = None
    if args.at is not None:
        try:
            at = ensure_aware(datetime.fromisoformat(args.at), name="--at")
        except ValueError as exc:
            raise ValidationError(f"--at must be an ISO 8601 time, got {args.at!r}.") from exc
    with _open_billing(args) as billing:
        result = billing.subscriptions.run_billing(
            at, batch_size=args.batch_size, worker_id=args.worker_id
        )
        # Charging happens after the run's transactions commit, never inside them.
        collected = billing.payments.collect_due(at) if args.collect else None
    print(
        f"Billing run {result.run_id} at {result.at.isoformat()} ({result.worker}): "
        f"{result.claimed} claimed, {result.renewed} renewed, "
        f"{result.trials_converted} trials converted, {result.canceled} canceled, "
        f"{result.paused} paused, {result.expired} expired, "
        f"{result.invoices_created} invoices created ({result.invoices_paid} paid), "
        f"{result.notices_sent} trial notices, {result.stuck} stuck, {result.batches} batches."
    )
    if collected is not None:
        print(
            f"Collection: {collected.attempted} attempted, {collected.paid} paid, "
            f"{collected.failed} failed, {collected.exhausted} out of retries, "
            f"{collected.deferred} deferred."
        )
    _note_defaults(args)
    if result.stuck:
        # The run itself finished, but a scheduler must see that someone has to look.
        print(
            f"error [billing_run_stuck]: {result.stuck} due subscription(s) made no progress "
            "and were left out of the run; see the errors on the lms_billing.billing_run "
            "logger.",
            file=sys.stderr,
        )
        return EXIT_STUCK
    return 0


def _cmd_tax_report(args: argparse.Namespace) -> int:
    from datetime import date

    from lms_billing.errors import ValidationError
    from lms_billing.tax import FxEurRates

    try:
        start, end = date.fromisoformat(args.start), date.fromisoformat(args.end)
    except ValueError as exc:
        raise ValidationError("--from and --to must be dates like 2026-01-31.") from exc
    with _open_billing(args) as billing:
        # OSS returns convert at the ECB rate of the period's last day: only the host knows
        # whether its FX sources answer with those, so using them is asked for explicitly.
        eur_rates = (
            FxEurRates(billing.plugins.fx_rate_sources())
            if args.eur_rates == "fx-sources"
            else None
        )
        csv = billing.tax_reports.report_csv(start, end, period=args.period, eur_rates=eur_rates)
        sys.stdout.write(csv)
    _note_defaults(args)
    return 0


def _cmd_version(args: argparse.Namespace) -> int:
    print(__version__)
    return 0


def _add_app_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--app",
        metavar="MODULE:NAME",
        help=(
            "your service's configured Billing (its settings, tax engines, gateways): an "
            f"instance or a function returning one (default: ${APP_ENV}; without it the "
            "defaults are used)"
        ),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lms-billing", description="Billing for learning-management platforms."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="sample catalog, quotes and an invoice, offline")
    demo.add_argument("--out", default="demo-output", help="folder for the demo's files")
    demo.add_argument(
        "--storage-url", help="database URL (default: a SQLite file in the output folder)"
    )
    demo.set_defaults(handler=_cmd_demo)

    migrate = commands.add_parser("migrate", help="create or upgrade the database schema")
    migrate.add_argument(
        "--storage-url",
        help=f"database URL (default: ${STORAGE_URL_ENV} or {DEFAULT_STORAGE_URL})",
    )
    _add_app_argument(migrate)
    migrate.set_defaults(handler=_cmd_migrate)

    run = commands.add_parser(
        "billing-run", help="renew every due subscription (safe to run in parallel and again)"
    )
    run.add_argument(
        "--storage-url",
        help=f"database URL (default: ${STORAGE_URL_ENV} or {DEFAULT_STORAGE_URL})",
    )
    _add_app_argument(run)
    run.add_argument("--at", help="bill as of this ISO 8601 time with offset (default: now)")
    run.add_argument("--batch-size", type=int, default=500, help="subscriptions per transaction")
    run.add_argument("--worker-id", help="name recorded on the run (default: host:pid)")
    run.add_argument(
        "--no-collect",
        dest="collect",
        action="store_false",
        help="only renew; skip charging new invoices and due dunning retries",
    )
    run.set_defaults(handler=_cmd_billing_run)

    report = commands.add_parser(
        "tax-report", help="tax per period and jurisdiction as CSV (for OSS / VAT returns)"
    )
    report.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
    report.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD")
    report.add_argument("--period", choices=["month", "quarter", "year"], default="quarter")
    report.add_argument(
        "--eur-rates",
        choices=["none", "fx-sources"],
        default="none",
        help=(
            "EUR columns of non-EUR rows: 'fx-sources' converts with the app's FX rate plugins "
            "(register ECB rates for OSS returns); 'none' leaves them empty unless an invoice "
            "recorded its EUR rate"
        ),
    )
    report.add_argument(
        "--storage-url",
        help=f"database URL (default: ${STORAGE_URL_ENV} or {DEFAULT_STORAGE_URL})",
    )
    _add_app_argument(report)
    report.set_defaults(handler=_cmd_tax_report)

    version = commands.add_parser("version", help="print the lms-billing version")
    version.set_defaults(handler=_cmd_version)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a :class:`BillingError` becomes one line on stderr and exit code 1.

    The line is ``error [<code>]: <message>`` (whitespace collapsed, so a driver's multi-line
    message stays on one line); no traceback, because these are failures the operator fixes
    (a wrong URL, a database that is down, bad input), not bugs.
    """
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except BillingError as exc:
        print(f"error [{exc.code}]: {' '.join(exc.message.split())}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
