#!/usr/bin/env bash
# One command that sets everything up and runs the whole test suite (CI runs exactly this).
#   bash scripts/test.sh [extra pytest args]
# It creates .venv, installs lms-billing with its dev extras and the example plugins, installs
# the system packages the tests need (PostgreSQL server, fonts) when they are missing, then runs
# ruff, mypy --strict on src/ and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV="${LMS_BILLING_VENV:-.venv}"

bash scripts/system-deps.sh

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e ".[dev]" \
    -e examples/lms_directory_plugin \
    $(for pkg in examples/*/pyproject.toml; do d=$(dirname "$pkg"); [ "$d" = examples/lms_directory_plugin ] || echo "-e $d"; done)

echo "== ruff"
"$VENV/bin/ruff" check src tests examples benchmarks
echo "== mypy --strict src"
"$VENV/bin/mypy" --strict src
echo "== pytest"
"$VENV/bin/python" -m pytest "$@"
