#!/usr/bin/env bash
# Builds both container images with one command:
#   scripts/build-images.sh [TAG]          -> ducklake-ingester:TAG, ducklake-operator:TAG
# REGISTRY=ghcr.io/ducklake-stellar prefixes the names; PUSH=1 pushes them.
# Needs Docker with BuildKit (cache mounts); DOCKER=podman works too.
set -euo pipefail
cd "$(dirname "$0")/.."

DOCKER="${DOCKER:-docker}"
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
TAG="${1:-$VERSION}"
PREFIX="${REGISTRY:+$REGISTRY/}"
REVISION="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
export DOCKER_BUILDKIT=1

for image in operator ingester; do
  name="${PREFIX}ducklake-$image:$TAG"
  echo "== building $name"
  "$DOCKER" build -f "images/$image.Dockerfile" \
    --build-arg VERSION="$VERSION" --build-arg REVISION="$REVISION" \
    -t "$name" .
  if [ "${PUSH:-0}" = 1 ]; then
    "$DOCKER" push "$name"
  fi
done
echo "built ${PREFIX}ducklake-operator:$TAG and ${PREFIX}ducklake-ingester:$TAG"
