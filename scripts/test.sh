#!/usr/bin/env bash
# The project's test command (README "Run the tests"; .ci/run calls it).
# Starts or installs what the tests need, then runs every check.
set -euo pipefail
cd "$(dirname "$0")/.."

url=$(scripts/ensure-services.sh)
if [ -n "$url" ]; then
  export DATABASE_URL="$url"
fi
# The broker tests (shared/messaging/rabbitmq) skip when RabbitMQ cannot be
# reached, except here: ensure-services.sh starts it, so CI fails instead.
export TASKER_REQUIRE_RABBITMQ=1

echo "== go vet"
go vet ./...
echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt needed on:"; echo "$unformatted"; exit 1
fi
scripts/lint.sh
echo "== go test -race"
go test -race -count=1 -timeout 20m ./...
echo "== deploy/ (Kubernetes manifests module)"
(cd deploy && go mod tidy -diff && go vet ./... && go test -count=1 -timeout 5m ./...)
echo "== bench/ (River baseline module)"
(cd bench && go vet ./... && go test -count=1 -timeout 10m ./...)
# Builds both container images with buildah (installed from Debian when
# missing) and runs them against the local PostgreSQL; removes its
# containers and images when done (docs/deploy.md, "How the deployment
# files are checked").
echo "== container images"
scripts/build-images.sh --ci
