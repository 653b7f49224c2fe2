"""The ``lms-billing`` command line: ``demo``, ``migrate``, ``version``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from lms_billing._version import __version__
from lms_billing.billing import DEFAULT_STORAGE_URL
from lms_billing.errors import BillingError

STORAGE_URL_ENV = "LMS_BILLING_STORAGE_URL"


def _storage_url(value: str | None) -> str:
    return value or os.environ.get(STORAGE_URL_ENV) or DEFAULT_STORAGE_URL


def _cmd_demo(args: argparse.Namespace) -> int:
    from lms_billing.demo import run_demo

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    url = args.storage_url or f"sqlite:///{(out / 'demo.db').as_posix()}"
    run_demo(url)
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    from lms_billing.plugins.manager import PluginHost, get_plugin_manager

    url = _storage_url(args.storage_url)
    host = PluginHost(get_plugin_manager())
    storage = host.storage_backend_for(url).open(url)
    try:
        storage.migrate()
    finally:
        storage.close()
    print(f"Schema is up to date on {storage.name} storage.")
    return 0


def _cmd_version(args: argparse.Namespace) -> int:
    print(__version__)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lms-billing", description="Billing for learning-management platforms."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="build a sample catalog and quote it offline")
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
    migrate.set_defaults(handler=_cmd_migrate)

    version = commands.add_parser("version", help="print the lms-billing version")
    version.set_defaults(handler=_cmd_version)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except BillingError as exc:
        print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
