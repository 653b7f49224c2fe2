"""Developer sessions: ``nox -s tests``, ``lint``, ``typecheck``, ``demo``, ``bench``.

CI runs ``bash scripts/test.sh`` (lint + typecheck + tests in one venv); these sessions give the
same checks one at a time, each in its own nox-managed virtualenv.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

# Every example package (plugins, adapters) is installed editable, as scripts/test.sh does.
EXAMPLE_PLUGINS = [
    arg
    for path in sorted(Path("examples").glob("*/pyproject.toml"))
    for arg in ("-e", str(path.parent))
]


@nox.session
def tests(session: nox.Session) -> None:
    """Run the whole pytest suite (starts a throwaway PostgreSQL when no URL is given)."""
    session.run("bash", "scripts/system-deps.sh", external=True)
    session.install("-e", ".[dev]", *EXAMPLE_PLUGINS)
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff on everything we ship."""
    session.install("ruff")
    session.run("ruff", "check", "src", "tests", "examples", "benchmarks")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on src/."""
    session.install("-e", ".[dev]")
    session.run("mypy", "--strict", "src")


@nox.session
def demo(session: nox.Session) -> None:
    """Run ``lms-billing demo`` offline; it writes into ``demo-output/`` and reuses its
    ``demo.db`` (idempotency keys replay the same documents). Pass ``-- --out DIR`` for a
    fresh folder."""
    session.install("-e", ".[pdf]")
    session.run("lms-billing", "demo", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Run every benchmark script and print its figures."""
    session.install("-e", ".[dev]")
    for script in sorted(Path("benchmarks").glob("*.py")):
        session.run("python", str(script), *session.posargs)
