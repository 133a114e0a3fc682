#!/usr/bin/env bash
# Fetches the real Apache Kafka broker (its jars and their runtime dependencies) into .kafka/libs.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec "$ROOT/scripts/fetch-jars.sh" "$ROOT/scripts/kafka/pom.xml" "${DOMAINLM_KAFKA_HOME:-$ROOT/.kafka}"
