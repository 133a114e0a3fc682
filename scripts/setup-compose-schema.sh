#!/usr/bin/env bash
# Fetches what the deployment tests check docker-compose.yml against; idempotent (a second call only
# checks that both files are there).
#   .cache/compose-spec/<version>/compose-spec.json   the Compose Specification JSON schema
#   .cache/compose-spec/<version>/compose-check       a small loader built on compose-go: loads a compose
#       file as `docker compose config` does (interpolation from the environment, merge keys,
#       normalisation, consistency checks such as depends_on targets and declared volumes) and prints
#       the project as JSON; the module's own cmd loads only the raw model, without those checks
# Both come from the compose-go Go module (the library docker compose loads files with), through the Go
# module proxy, so the files are checked against the Go checksum database on the way in.
# Prints the cache directory on stdout.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODULE=github.com/compose-spec/compose-go/v2
VERSION="${COMPOSE_GO_VERSION:-v2.16.2}"
DEST="$ROOT/.cache/compose-spec/$VERSION"

if [[ -s "$DEST/compose-spec.json" && -x "$DEST/compose-check" ]]; then
    echo "$DEST"
    exit 0
fi
# compose-go needs Go >= 1.24 (Debian 12's golang-go is 1.19).
gobin="$("$ROOT/scripts/go-toolchain.sh" 1.24)"
export PATH="$gobin:$PATH"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$DEST"
# Outside any module, so the project's own go.mod (there is none) cannot interfere.
cd "$tmp"
dir="$(GOFLAGS=-mod=mod go mod download -json "$MODULE@$VERSION" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')"
install -m 0644 "$dir/schema/compose-spec.json" "$tmp/compose-spec.json"

mkdir "$tmp/check"
cat >"$tmp/check/main.go" <<'GO'
// compose-check FILE...: loads compose files as docker compose does and prints the project as JSON.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: compose-check COMPOSE_FILE...")
		os.Exit(2)
	}
	options, err := cli.NewProjectOptions(os.Args[1:],
		cli.WithOsEnv,
		cli.WithInterpolation(true),
		cli.WithResolvedPaths(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, err := project.MarshalJSON()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}
GO
(
    cd "$tmp/check"
    go mod init domainlm.local/compose-check >/dev/null 2>&1
    go get "$MODULE@$VERSION" >/dev/null 2>&1 || go get "$MODULE@$VERSION"
    go mod tidy >/dev/null 2>&1 || go mod tidy
    go build -o "$tmp/compose-check" .
)
# Moved in last, so an interrupted run leaves nothing that looks complete.
mv -f "$tmp/compose-spec.json" "$DEST/compose-spec.json"
mv -f "$tmp/compose-check" "$DEST/compose-check"
echo "fetched the Compose Specification schema and built its loader ($MODULE@$VERSION) into $DEST" >&2
echo "$DEST"
