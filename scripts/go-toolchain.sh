#!/usr/bin/env bash
# Prints the bin directory of a Go toolchain at least as new as $1 (e.g. 1.24): the installed go when it
# is new enough, else one fetched into .cache/go-toolchain. Debian 12's golang-go is 1.19, too old to
# switch toolchains itself (GOTOOLCHAIN came with 1.21); but the Go toolchain is itself a module on the
# Go module proxy, which any go can download. The module's zip keeps no exec bits; they are set as go does.
#   PATH="$(scripts/go-toolchain.sh 1.24):$PATH"
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NEED="$1"
case "$NEED" in  # the toolchain fetched when the installed go is too old: the oldest that will do
  1.25*|1.26*) DEFAULT_TOOLCHAIN=1.26.8 ;;
  *) DEFAULT_TOOLCHAIN=1.24.13 ;;
esac
TOOLCHAIN="${DOMAINLM_GO_TOOLCHAIN:-$DEFAULT_TOOLCHAIN}"
[[ -x /usr/local/go/bin/go ]] && export PATH="/usr/local/go/bin:$PATH"
command -v go >/dev/null 2>&1 || { echo "go-toolchain: go is needed (Debian: golang-go)" >&2; exit 1; }
if printf '%s\n%s\n' "go$NEED" "$(go env GOVERSION)" | sort -V -C; then
    dirname "$(command -v go)"
    exit 0
fi
tc="$ROOT/.cache/go-toolchain/go$TOOLCHAIN"
if [[ ! -x "$tc/bin/go" ]]; then
    echo "go-toolchain: $(go env GOVERSION) is older than go$NEED; fetching go$TOOLCHAIN" >&2
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    module="golang.org/toolchain@v0.0.1-go$TOOLCHAIN.$(go env GOOS)-$(go env GOARCH)"
    src="$(cd "$tmp" && GOFLAGS=-mod=mod go mod download -json "$module" \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')"
    rm -rf "$tc.partial" && mkdir -p "$(dirname "$tc")"
    cp -r "$src" "$tc.partial" && chmod -R u+w "$tc.partial"
    chmod +x "$tc.partial"/bin/* "$tc.partial"/pkg/tool/*/*
    mv "$tc.partial" "$tc"
fi
echo "$tc/bin"
