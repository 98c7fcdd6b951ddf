#!/usr/bin/env bash
# Builds the Tasker C ABI: build/libtasker_worker.so (and cgo's generated
# build/libtasker_worker.h, an artefact; the documented header is
# bindings/capi/include/tasker_worker.h). Needs Go with cgo and a C compiler.
# Prints the path of the library. See docs/capi.md.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build
CGO_ENABLED=1 go build -buildmode=c-shared -o build/libtasker_worker.so ./bindings/capi
echo "$(pwd)/build/libtasker_worker.so"
