#!/usr/bin/env bash
# The main job: sets the machine up if needed, then `domainlm run` with the given arguments.
#   scripts/run.sh --input examples/sample-policy --output runs/demo
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
exec "$ROOT/.venv/bin/domainlm" run "$@"
