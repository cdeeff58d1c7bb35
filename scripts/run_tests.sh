#!/usr/bin/env bash
# Set up (idempotent) and run the whole test suite. This is README's second command and CI's.
set -euo pipefail
cd "$(dirname "$0")/.."
bash setup.sh
exec .venv/bin/python -m pytest tests -q -p no:cacheprovider "$@"
