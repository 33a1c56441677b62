#!/usr/bin/env bash
# End-to-end on kind: cluster, images, chart, ledger source, then the Rust
# scenario in e2e/tests/kind.rs (ignored by a plain `cargo test`).
#
#   e2e/kind.sh            create (or reuse) the cluster and run everything
#   KEEP=1 e2e/kind.sh     leave the cluster running afterwards
#
# Needs docker, kind, kubectl and helm on PATH, and network access for the
# kindest/node and base images. CLUSTER, NODE_IMAGE override the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER="${CLUSTER:-ducklake-e2e}"
NODE_IMAGE="${NODE_IMAGE:-kindest/node:v1.33.1}"
TAG=e2e
NS=e2e

for tool in docker kind kubectl helm cargo; do
  command -v "$tool" >/dev/null || { echo "ERROR: $tool is not on PATH" >&2; exit 1; }
done

echo "== cluster $CLUSTER"
if ! kind get clusters | grep -qx "$CLUSTER"; then
  kind create cluster --name "$CLUSTER" --image "$NODE_IMAGE" --wait 180s
fi
kubectl config use-context "kind-$CLUSTER"
diagnostics() {
  echo "== diagnostics"
  kubectl get dli,sts,pods,svc,cm,pvc -A -o wide || true
  kubectl -n "$NS" describe dli e2e || true
  kubectl -n "$NS" describe pod e2e-0 || true
  kubectl -n "$NS" logs e2e-0 --tail=100 || true
  kubectl -n ducklake-system describe pods || true
  kubectl -n ducklake-system logs deploy/ducklake-operator --tail=200 || true
  kubectl get events -A --sort-by=.lastTimestamp | tail -60 || true
}
cleanup() {
  local status=$?
  # Whatever step failed (setup included), show the cluster before it goes.
  if [ "$status" != 0 ]; then diagnostics; fi
  if [ "${KEEP:-0}" != 1 ]; then kind delete cluster --name "$CLUSTER"; fi
  exit "$status"
}
trap cleanup EXIT

echo "== images"
scripts/build-images.sh "$TAG"
# The query client of the test, loaded too so the run needs no registry pulls in the cluster.
docker pull -q curlimages/curl:8.11.0
kind load docker-image --name "$CLUSTER" "ducklake-operator:$TAG" "ducklake-ingester:$TAG" curlimages/curl:8.11.0

echo "== chart"
helm upgrade --install ducklake-operator charts/ducklake-operator \
  --namespace ducklake-system --create-namespace \
  --set image.repository=ducklake-operator --set image.tag="$TAG" --set image.pullPolicy=Never \
  --set ingester.image.repository=ducklake-ingester --set ingester.image.tag="$TAG" \
  --set logging.level=debug --wait --timeout 5m
kubectl -n ducklake-system rollout status deploy/ducklake-operator --timeout=3m

echo "== ledger source"
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f -
kubectl -n "$NS" apply -f e2e/manifests/ledger-source.yaml
kubectl -n "$NS" rollout status deploy/ledger-source --timeout=3m

echo "== scenario"
E2E_NAMESPACE="$NS" cargo test --locked -p ducklake-e2e --test kind -- --ignored --nocapture --test-threads=1
