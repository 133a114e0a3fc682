#!/usr/bin/env bash
# Build, check and push the service images with buildah (see scripts/images.py):
#   scripts/images.sh build [SERVICE...]            images from services/Dockerfile, on a local Debian base
#   scripts/images.sh check [SERVICE...]            start each image, wait for SERVING, check user and writes
#   scripts/images.sh push REGISTRY [SERVICE...]    push them (e.g. registry.example.com/ml)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
missing=()
for tool in buildah debootstrap; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if ((${#missing[@]})); then
  SUDO=""; [[ "$(id -u)" == 0 ]] || SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi
cd "$ROOT"
exec "$ROOT/.venv/bin/python" "$ROOT/scripts/images.py" "$@"
