#!/usr/bin/env bash
# Fetches the runtime jars a pom names (the artifact and its dependencies, from Maven Central) into
# DEST/libs. Idempotent: a marker records the finished fetch, keyed by the pom's hash.
#   scripts/fetch-jars.sh POM DEST
set -euo pipefail
POM="$1"
DEST="$2"
STAMP="$(sha256sum "$POM" | cut -c1-16)"
if [[ -f "$DEST/.ready" && "$(cat "$DEST/.ready")" == "$STAMP" ]]; then exit 0; fi
echo "fetching $(basename "$(dirname "$POM")")'s jars into $DEST/libs (first use only) ..." >&2
rm -rf "$DEST/libs"
mvn -q -B -f "$POM" dependency:copy-dependencies -DoutputDirectory="$DEST/libs" -DincludeScope=runtime
echo "$STAMP" > "$DEST/.ready"
