#!/usr/bin/env bash
# Fetches the real Apache Kafka broker (its jars and their runtime dependencies) into .kafka/libs.
# Idempotent: a marker records the finished fetch, keyed by the pom's hash.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${DOMAINLM_KAFKA_HOME:-$ROOT/.kafka}"
POM="$ROOT/scripts/kafka/pom.xml"
STAMP="$(sha256sum "$POM" | cut -c1-16)"
if [[ -f "$DEST/.ready" && "$(cat "$DEST/.ready")" == "$STAMP" ]]; then exit 0; fi
echo "fetching the Kafka broker jars into $DEST/libs (first use only) ..." >&2
rm -rf "$DEST/libs"
mvn -q -B -f "$POM" dependency:copy-dependencies -DoutputDirectory="$DEST/libs" -DincludeScope=runtime
echo "$STAMP" > "$DEST/.ready"
