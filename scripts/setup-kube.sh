#!/usr/bin/env bash
# A real Kubernetes API server for the trainer's integration tests (tests/integration/test_trainer_kube.py):
# etcd from Debian's `etcd-server` package and kube-apiserver built from its Go module through the Go
# module proxy, cached as .cache/kube/kube-apiserver-vVERSION (no kubelet, no controllers).
#
# k8s.io/kubernetes replaces its k8s.io/* staging modules with ./staging paths, so `go install` of it
# fails; a throwaway main module requires k8s.io/kubernetes vX.Y.Z and pins every staging module named in
# its go.mod to the matching v0.Y.Z with `replace` lines, then builds k8s.io/kubernetes/cmd/kube-apiserver.
# Idempotent: nothing happens when the binary is there. Compiles at the lowest priority (nice -n 19).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="${DOMAINLM_KUBE_VERSION:-1.31.14}"  # GA podFailurePolicy; works with Debian's etcd 3.4
DEST="${DOMAINLM_KUBE_HOME:-$ROOT/.cache/kube}"
BIN="$DEST/kube-apiserver-v$VERSION"

if ! command -v etcd >/dev/null 2>&1; then
  echo "setup-kube: installing etcd-server (Debian) ..." >&2
  SUDO=""; [[ "$(id -u)" == 0 ]] || SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q etcd-server >/dev/null
  # the package starts a system etcd on :2379; the tests run their own on free ports
  $SUDO systemctl disable --now etcd >/dev/null 2>&1 || true
fi

if [[ -x "$BIN" ]]; then echo "$BIN"; exit 0; fi
# kube-apiserver v1.31 needs Go >= 1.22 (Debian 12's golang-go is 1.19).
gobin="$("$ROOT/scripts/go-toolchain.sh" 1.22)"
export PATH="$gobin:$PATH"

MINOR_PATCH="${VERSION#*.}"  # 31.14
BUILD="$DEST/build-v$VERSION"
rm -rf "$BUILD"; mkdir -p "$BUILD"; cd "$BUILD"
export GOFLAGS="-mod=mod" CGO_ENABLED=0 GOTOOLCHAIN=local
echo "setup-kube: building kube-apiserver v$VERSION (first use only) ..." >&2
start=$(date +%s)
go mod init domainlm.local/kubebuild >/dev/null 2>&1
gomod="$(go mod download -json "k8s.io/kubernetes@v$VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')"
staging="$(grep -oE 'k8s\.io/[A-Za-z0-9._-]+ => \./staging' "$gomod" | awk '{print $1}' | sort -u)"
[[ -n "$staging" ]] || { echo "setup-kube: no staging replaces found in $gomod" >&2; exit 1; }
args=(-require="k8s.io/kubernetes@v$VERSION")
for m in $staging; do
  if go mod download "$m@v0.$MINOR_PATCH" >/dev/null 2>&1; then
    args+=(-require="$m@v0.$MINOR_PATCH" -replace="$m=$m@v0.$MINOR_PATCH")
  else
    # a few staging modules (kube-scheduler, kube-proxy, sample-*, ...) are not served by every proxy;
    # kube-apiserver imports no package of them, so an empty local module satisfies the module graph
    echo "setup-kube: $m@v0.$MINOR_PATCH not available from the proxy; using an empty stub" >&2
    mkdir -p "stub/$m"; printf 'module %s\n\ngo 1.22\n' "$m" >"stub/$m/go.mod"
    args+=(-replace="$m=./stub/$m")
  fi
done
go mod edit "${args[@]}"
nice -n 19 go get "k8s.io/kubernetes/cmd/kube-apiserver@v$VERSION" >&2
MAJOR="${VERSION%%.*}"; MINOR="${MINOR_PATCH%%.*}"
V=k8s.io/component-base/version
nice -n 19 go build -p "${DOMAINLM_KUBE_BUILD_JOBS:-2}" -trimpath \
  -ldflags="-s -w -X $V.gitVersion=v$VERSION -X $V.gitMajor=$MAJOR -X $V.gitMinor=$MINOR -X $V.gitTreeState=clean" -o "$BIN.tmp" k8s.io/kubernetes/cmd/kube-apiserver
mv "$BIN.tmp" "$BIN"
cd "$DEST"; rm -rf "$BUILD"
echo "setup-kube: built $BIN in $(( $(date +%s) - start ))s" >&2
echo "$BIN"
