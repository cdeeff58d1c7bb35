#!/usr/bin/env bash
# Set up (idempotent) and run the whole test suite. This is README's second command and CI's.
set -euo pipefail
cd "$(dirname "$0")/.."
export MELGAN_BROWSER_TESTS=1  # setup.sh then installs chromium for tests/test_report_page.py
bash setup.sh
# The C++ app tests/test_cpp_infer.py runs: its SDK (a 168 MB download) is fetched and the app built
# here, with the rest of the setup (~11 s of CPU), so that a network failure stops the setup with its
# own message instead of failing a test; the tests' own call then finds it built.
bash ascend310_infer/build.sh
# One worker per core (at most 4), each pinned to its core by tests/conftest.py: graph compiles are
# single-threaded, so two cores run two test files at once. loadscope: a module's tests stay in order
# in one worker and its fixtures are built once; tests/conftest.py puts the modules sharing the
# compiled small trainer in one work unit and orders the longest units first (--no-loadscope-reorder
# keeps that order).
workers=$(nproc); [ "$workers" -gt 4 ] && workers=4
# The tests start ~60 Python processes; with the project's bytecode cached each starts ~0.4 s sooner.
unset PYTHONDONTWRITEBYTECODE
exec .venv/bin/python -m pytest tests -q -p no:cacheprovider -n "$workers" --dist loadscope --no-loadscope-reorder "$@"
