//go:build wasip1

// Command misbehave is a test module whose handlers break the rules: they
// loop forever, panic past the SDK, exhaust their memory, open a file, and
// answer with something that is not a result. echo and count behave.
package main

import (
	"os"
	"unsafe"

	"github.com/tasker-go/tasker/worker/wasm/guest"
)

func main() {}

var sink [][]byte

// calls counts the steps this instance served.
var calls int

//go:wasmexport echo
func echo(ptr, size uint32) uint64 {
	return guest.Run(ptr, size, func(step *guest.Step) (any, error) {
		var ctx map[string]any
		if err := step.Context(&ctx); err != nil {
			return nil, err
		}
		return map[string]any{"context": ctx, "step": step.Name(), "attempt": step.Attempt()}, nil
	})
}

//go:wasmexport count
func count(ptr, size uint32) uint64 {
	return guest.Run(ptr, size, func(*guest.Step) (any, error) {
		calls++
		return map[string]int{"calls": calls}, nil
	})
}

//go:wasmexport spin
func spin(ptr, size uint32) uint64 {
	return guest.Run(ptr, size, func(*guest.Step) (any, error) {
		for i := 0; ; i++ {
			calls += i & 1
		}
	})
}

//go:wasmexport crash
func crash(uint32, uint32) uint64 { panic("crash handler gave up") }

//go:wasmexport hog
func hog(ptr, size uint32) uint64 {
	return guest.Run(ptr, size, func(*guest.Step) (any, error) {
		for {
			sink = append(sink, make([]byte, 1<<20))
		}
	})
}

//go:wasmexport open_file
func openFile(ptr, size uint32) uint64 {
	return guest.Run(ptr, size, func(*guest.Step) (any, error) {
		b, err := os.ReadFile("/etc/hostname")
		if err != nil {
			return nil, err
		}
		return string(b), nil
	})
}

//go:wasmexport swallow_open
func swallowOpen(ptr, size uint32) uint64 {
	return guest.Run(ptr, size, func(*guest.Step) (any, error) {
		_, _ = os.ReadFile("/etc/passwd")
		return "ignored the error", nil
	})
}

var garbage = []byte("this is not JSON")

//go:wasmexport not_json
func notJSON(uint32, uint32) uint64 {
	return uint64(uintptr(unsafe.Pointer(&garbage[0])))<<32 | uint64(len(garbage))
}

//go:wasmexport out_of_bounds
func outOfBounds(uint32, uint32) uint64 { return 0xfffffff0<<32 | 64 }

// noop answers a constant result: the cost of the ABI alone.
var okResult = []byte(`{"success": true, "result": {}}`)

//go:wasmexport noop
func noop(uint32, uint32) uint64 {
	return uint64(uintptr(unsafe.Pointer(&okResult[0])))<<32 | uint64(len(okResult))
}

// passthrough returns linear_step_1's result as it is, through the SDK:
// the cost of the SDK (reading the event, writing the result) without a
// handler's own work.
//
//go:wasmexport passthrough
func passthrough(ptr, size uint32) uint64 {
	return guest.Run(ptr, size, func(step *guest.Step) (any, error) {
		return step.DependencyJSON("linear_step_1")
	})
}
