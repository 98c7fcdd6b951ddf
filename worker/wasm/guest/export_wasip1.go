//go:build wasip1

package guest

import "unsafe"

// pinned keeps the buffers handed to the host alive until it frees them
// (Go's collector does not move objects, so a reference is enough).
var pinned = map[uint32][]byte{}

//go:wasmexport tasker_abi_version
func abiVersion() int32 { return ABIVersion }

//go:wasmexport tasker_alloc
func alloc(size uint32) uint32 {
	return pin(make([]byte, max(size, 1)))
}

//go:wasmexport tasker_free
func free(ptr, _ uint32) { delete(pinned, ptr) }

func pin(b []byte) uint32 {
	p := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	pinned[p] = b
	return p
}

// Run is the body of an exported handler: it reads the step event the
// host wrote at ptr (size bytes), runs h and returns the result JSON's
// address and length packed as address<<32 | length.
func Run(ptr, size uint32, h Handler) uint64 {
	in := pinned[ptr]
	if uint32(len(in)) < size {
		// Not a buffer from tasker_alloc: read the memory directly.
		in = unsafe.Slice((*byte)(unsafe.Pointer(uintptr(ptr))), size)
	}
	out := Invoke(in[:size], h)
	return uint64(pin(out))<<32 | uint64(len(out))
}
