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
command -v go >/dev/null 2>&1 || { echo "setup-compose-schema: go is needed (Debian: golang-go)" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# compose-go needs Go >= 1.24, and Debian 12's golang-go is 1.19, too old to switch toolchains itself
# (GOTOOLCHAIN came with 1.21). The Go toolchain is itself a module on the proxy: an older go fetches
# that module, and the build uses it. The module's zip keeps no exec bits; they are set as go does.
NEED_GO=1.24
TOOLCHAIN="${DOMAINLM_GO_TOOLCHAIN:-1.24.13}"
if ! printf '%s\n%s\n' "go$NEED_GO" "$(go env GOVERSION)" | sort -V -C; then
    tc="$ROOT/.cache/go-toolchain/go$TOOLCHAIN"
    if [[ ! -x "$tc/bin/go" ]]; then
        echo "setup-compose-schema: $(go env GOVERSION) is older than go$NEED_GO; fetching go$TOOLCHAIN" >&2
        module="golang.org/toolchain@v0.0.1-go$TOOLCHAIN.$(go env GOOS)-$(go env GOARCH)"
        src="$(cd "$tmp" && GOFLAGS=-mod=mod go mod download -json "$module" \
            | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')"
        rm -rf "$tc.partial" && mkdir -p "$(dirname "$tc")"
        cp -r "$src" "$tc.partial" && chmod -R u+w "$tc.partial"
        chmod +x "$tc.partial"/bin/* "$tc.partial"/pkg/tool/*/*
        mv "$tc.partial" "$tc"
    fi
    export PATH="$tc/bin:$PATH"
fi

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
