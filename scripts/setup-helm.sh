#!/usr/bin/env bash
# helm and kubeconform for the chart's tests (tests/integration/test_chart*.py), built from their Go
# modules through the Go module proxy into .cache/bin (no download sites needed), and the Kubernetes JSON
# schemas kubeconform validates against, taken offline from PyPI's kubernetes-validate (in .venv).
# Idempotent: prints the bin directory; nothing is built when the binaries are there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HELM_VERSION="${DOMAINLM_HELM_VERSION:-v3.22.0}"
KUBECONFORM_VERSION="${DOMAINLM_KUBECONFORM_VERSION:-v0.7.0}"
DEST="${DOMAINLM_TOOLS_HOME:-$ROOT/.cache/bin}"
mkdir -p "$DEST"

build() {  # NAME VERSION PACKAGE GO_NEEDED [LDFLAGS]
  local bin="$DEST/$1-$2"
  if [[ ! -x "$bin" ]]; then
    echo "setup-helm: building $1 $2 (first use only) ..." >&2
    local gobin tmp start
    gobin="$("$ROOT/scripts/go-toolchain.sh" "$4")"
    tmp="$(mktemp -d)"
    start=$(date +%s)
    # CGO off: static binaries; GOTOOLCHAIN=local: the toolchain chosen above, never a silent switch.
    CGO_ENABLED=0 GOTOOLCHAIN=local GOBIN="$tmp" nice -n 19 "$gobin/go" install -trimpath -ldflags="-s -w ${5:-}" "$3@$2" >&2
    mv "$tmp/$1" "$bin"
    rm -rf "$tmp"
    echo "setup-helm: built $bin in $(( $(date +%s) - start ))s" >&2
  fi
  ln -sf "$(basename "$bin")" "$DEST/$1"
}

# What helm's Makefile sets: its version, and the Kubernetes version `helm template` and `helm lint`
# assume (from the client-go it is built with; without it a chart's kubeVersion is checked against 1.20).
if [[ ! -x "$DEST/helm-$HELM_VERSION" ]]; then
  gomod="$(cd "$(mktemp -d)" && GOFLAGS=-mod=mod "$("$ROOT/scripts/go-toolchain.sh" 1.26)/go" mod download \
    -json "helm.sh/helm/v3@$HELM_VERSION" | python3 -c 'import json, sys; print(json.load(sys.stdin)["GoMod"])')"
  k8s_minor="$(sed -nE 's/^\s*k8s\.io\/client-go v0\.([0-9]+)\..*/\1/p' "$gomod" | head -1)"
  helm_flags="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  for pkg in pkg/lint/rules pkg/chartutil; do
    helm_flags+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1 -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$k8s_minor"
  done
  build helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm 1.26 "$helm_flags"
fi
ln -sf "helm-$HELM_VERSION" "$DEST/helm"
build kubeconform "$KUBECONFORM_VERSION" github.com/yannh/kubeconform/cmd/kubeconform 1.24

# kubernetes-validate's schemas refer to their shared definitions as "/api/_definitions.json", a path
# its own loader maps; kubeconform resolves references against the schema file, so they are rewritten
# to the file beside them: .cache/kubernetes-json-schema/vX.Y.Z-strict/{kind}-{group}-{version}.json.
KUBE_SCHEMA="${DOMAINLM_KUBE_SCHEMA_VERSION:-v1.33.0}"
schemas="$ROOT/.cache/kubernetes-json-schema/$KUBE_SCHEMA-strict"
if [[ ! -f "$schemas/_definitions.json" ]]; then
  src="$("$ROOT/.venv/bin/python" -c "from importlib import resources; \
print(resources.files('kubernetes_validate') / 'kubernetes-json-schema' / '$KUBE_SCHEMA-local-strict')")"
  [[ -d "$src" ]] || { echo "setup-helm: no $KUBE_SCHEMA schemas in kubernetes-validate ($src)" >&2; exit 1; }
  rm -rf "$schemas.partial" && mkdir -p "$schemas.partial"
  # Their $id (https://kubernetes.io/api/...) would make kubeconform look for the definitions online.
  "$ROOT/.venv/bin/python" - "$src" "$schemas.partial" <<'PY'
import json, pathlib, sys
src, out = map(pathlib.Path, sys.argv[1:])
for f in src.glob("*.json"):
    schema = json.loads(f.read_text().replace('"/api/_definitions.json#', '"_definitions.json#'))
    schema.pop("$id", None)
    (out / f.name).write_text(json.dumps(schema))
PY
  rm -rf "$schemas" && mv "$schemas.partial" "$schemas"
fi
echo "$DEST"
