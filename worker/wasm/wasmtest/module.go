// Package wasmtest builds tiny WASM modules of the handler ABI for tests
// of the tooling around handlers (checks, loading, failures) where
// building a real guest would be slow.
package wasmtest

// StubModule returns a module that speaks the handler ABI, reporting
// abiVersion from tasker_abi_version, with the named handlers: "loop"
// never returns, every other handler traps (unreachable). Names must be
// shorter than 64 bytes and there must be fewer than 100 of them.
func StubModule(abiVersion byte, handlers ...string) []byte {
	if len(handlers) > 100 {
		panic("wasmtest: StubModule takes fewer than 100 handlers")
	}
	n := byte(len(handlers)) //nolint:gosec // bounded just above
	name := func(s string) []byte { return append([]byte{byte(len(s))}, s...) }
	const i32, i64 = 0x7f, 0x7e
	m := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	m = append(m, section(1, []byte{4,
		0x60, 0, 1, i32, // () -> i32
		0x60, 1, i32, 1, i32, // (i32) -> i32
		0x60, 2, i32, i32, 0, // (i32, i32) -> ()
		0x60, 2, i32, i32, 1, i64, // (i32, i32) -> i64
	})...)
	funcs := []byte{3 + n, 0, 1, 2}
	for range handlers {
		funcs = append(funcs, 3)
	}
	m = append(m, section(3, funcs)...)
	m = append(m, section(5, []byte{1, 0x00, 1})...)
	exports := []byte{4 + n}
	for i, n := range append([]string{"tasker_abi_version", "tasker_alloc", "tasker_free"}, handlers...) {
		exports = append(append(exports, name(n)...), 0x00, byte(i))
	}
	exports = append(append(exports, name("memory")...), 0x02, 0)
	m = append(m, section(7, exports)...)
	// Bodies are a few bytes: their size fits in one LEB128 byte.
	body := func(code ...byte) []byte { return append([]byte{byte(len(code) + 1), 0}, code...) } //nolint:gosec // a few bytes
	code := []byte{3 + n}
	code = append(code, body(0x41, abiVersion, 0x0b)...) // i32.const v
	code = append(code, body(0x41, 0x80, 0x08, 0x0b)...) // i32.const 1024
	code = append(code, body(0x0b)...)                   // nothing
	for _, h := range handlers {
		if h == "loop" {
			code = append(code, body(0x03, 0x40, 0x0c, 0x00, 0x0b, 0x00, 0x0b)...) // loop br 0 end; unreachable
		} else {
			code = append(code, body(0x00, 0x0b)...) // unreachable
		}
	}
	return append(m, section(10, code)...)
}

// section encodes a section with its size as a LEB128 number.
func section(id byte, body []byte) []byte {
	out := []byte{id}
	n := len(body)
	for {
		b := byte(n & 0x7f)
		n >>= 7
		if n != 0 {
			out = append(out, b|0x80)
			continue
		}
		out = append(out, b)
		break
	}
	return append(out, body...)
}
