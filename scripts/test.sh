#!/usr/bin/env bash
# The test command: sets the machine up if needed, then lint, type-check and the whole test suite.
# Integration tests start and stop the real parts they need (vLLM on CPU, tesseract) themselves.
#   scripts/test.sh            everything
#   scripts/test.sh -m "not integration"   fast unit tests only (extra arguments go to pytest)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
scripts/setup.sh
echo "== ruff" >&2
.venv/bin/ruff check .
echo "== mypy" >&2
.venv/bin/mypy
echo "== pytest" >&2
.venv/bin/pytest "$@"
