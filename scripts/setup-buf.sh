#!/usr/bin/env bash
# Fetches the buf CLI (proto lint and build; tests/unit/grpc/test_proto_lint.py) into .cache/buf/bin/buf.
# npm's @bufbuild/buf ships buf's prebuilt binary for this platform, so no Go toolchain is needed.
# Idempotent: nothing happens when the pinned version is already there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="1.75.0"
DEST="${DOMAINLM_BUF_HOME:-$ROOT/.cache/buf}"
BIN="$DEST/bin/buf"
if [[ -x "$BIN" && "$("$BIN" --version 2>/dev/null)" == "$VERSION" ]]; then exit 0; fi
command -v npm >/dev/null 2>&1 || { echo "setup-buf: npm is needed to fetch buf (Debian: npm)" >&2; exit 1; }
echo "fetching buf $VERSION into $DEST (first use only) ..." >&2
npm install --silent --no-audit --no-fund --prefix "$DEST" "@bufbuild/buf@$VERSION" >/dev/null
# The package's own `buf` is a node launcher; link the native binary it would run instead.
native="$(find "$DEST/node_modules/@bufbuild" -path '*/bin/buf' -type f | grep -v '/buf/bin/buf$' | head -n1)"
[[ -n "$native" ]] || { echo "setup-buf: no native buf binary in $DEST/node_modules/@bufbuild" >&2; exit 1; }
mkdir -p "$DEST/bin"
ln -sfr "$native" "$BIN"  # relative, so the checkout can move
"$BIN" --version >/dev/null
