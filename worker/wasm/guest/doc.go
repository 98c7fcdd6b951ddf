// Package guest is the SDK for step handlers written in Go and compiled to
// WebAssembly (GOOS=wasip1 GOARCH=wasm) for the worker's WASM host
// (package worker/wasm). A handler is an ordinary function
//
//	func(step *guest.Step) (any, error)
//
// exported under a name with one line of glue:
//
//	//go:wasmexport square
//	func square(ptr, size uint32) uint64 { return guest.Run(ptr, size, Square) }
//
// Importing the package also exports the functions every module of the
// handler ABI provides (tasker_abi_version, tasker_alloc, tasker_free).
// Build the module as a reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o handlers.wasm .
//
// The step event, the result and the error classification follow version 1
// of the handler ABI, described in docs/wasm.md. Everything but Run works on
// every platform, so handler logic can be unit-tested natively with Invoke.
package guest
