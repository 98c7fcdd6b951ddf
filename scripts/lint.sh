#!/usr/bin/env bash
# Static checks CI runs (scripts/test.sh calls this): go.mod is tidy and
# golangci-lint (pinned below, configured in .golangci.yml) finds nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

GOLANGCI_LINT_VERSION=v2.15.0

echo "== go mod tidy -diff"
if ! go mod tidy -diff; then
  echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1
fi

bin="$(go env GOPATH)/bin/golangci-lint"
if ! "$bin" version 2>/dev/null | grep -q "version ${GOLANGCI_LINT_VERSION#v} "; then
  echo "== installing golangci-lint $GOLANGCI_LINT_VERSION"
  go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION"
fi
echo "== golangci-lint"
"$bin" run ./...
