#!/usr/bin/env bash
# Fetches s3proxy (Apache-2.0; an S3-compatible server over a local directory) and its runtime
# dependencies into .s3proxy/libs, for the tests of documents by object-storage reference (s3://).
# Idempotent: a marker records the finished fetch, keyed by the pom's hash.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${DOMAINLM_S3PROXY_HOME:-$ROOT/.s3proxy}"
POM="$ROOT/scripts/s3proxy/pom.xml"
STAMP="$(sha256sum "$POM" | cut -c1-16)"
if [[ -f "$DEST/.ready" && "$(cat "$DEST/.ready")" == "$STAMP" ]]; then exit 0; fi
echo "fetching s3proxy into $DEST/libs (first use only) ..." >&2
rm -rf "$DEST/libs"
mvn -q -B -f "$POM" dependency:copy-dependencies -DoutputDirectory="$DEST/libs" -DincludeScope=runtime
echo "$STAMP" > "$DEST/.ready"
