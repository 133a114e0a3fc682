#!/usr/bin/env bash
# Fetches s3proxy (Apache-2.0; an S3-compatible server over a local directory) and its runtime
# dependencies into .s3proxy/libs, for the tests of documents by object-storage reference (s3://).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec "$ROOT/scripts/fetch-jars.sh" "$ROOT/scripts/s3proxy/pom.xml" "${DOMAINLM_S3PROXY_HOME:-$ROOT/.s3proxy}"
