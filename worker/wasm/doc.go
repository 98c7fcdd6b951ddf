// Package wasm runs step handlers compiled to WebAssembly inside the Go
// worker, on wazero (pure Go, no cgo). An Executor plugs into a worker
// beside its Go registry (OpenOptions.Fallback, or FromConfig as
// OpenOptions.FallbackFromConfig to configure it from [worker.wasm]), so
// one process serves Go and WASM handlers side by side. Modules added to
// or removed from the module paths while the worker runs change what it
// claims without a restart (CallablesChanged).
//
// A template names a WASM handler as wasm:<module>/<function> (or through
// Config.Callables, which maps any callable to module/function). The
// module is <module>.wasm in one of Config.ModulePaths; the function is one
// of its exports. The handler ABI (docs/wasm.md) is language-neutral: the
// host hands the function the step event JSON and reads back a result JSON.
// Package guest is the SDK for handlers written in Go.
//
// Each module is compiled once (and again only when its file changes) and
// instantiated per step from a pool: a step has an instance to itself, so
// concurrent steps never share memory. Each instance is sandboxed: its
// memory is capped, the step's timeout interrupts it (through checks the
// executor adds at loop heads before compiling, loopcheck.go), and it sees
// no file system, no network, no environment, a fixed clock and a deterministic
// random source unless the configuration grants them. A trap, a runaway
// loop, an exhausted memory or a file access is a failure of the step with
// a message that says so; the worker carries on.
package wasm
