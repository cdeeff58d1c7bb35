#!/usr/bin/env bash
# Set up (idempotent) and run the whole test suite. This is README's second command and CI's.
set -euo pipefail
cd "$(dirname "$0")/.."
export MELGAN_BROWSER_TESTS=1  # setup.sh then installs chromium for tests/test_report_page.py
bash setup.sh
exec .venv/bin/python -m pytest tests -q -p no:cacheprovider "$@"
