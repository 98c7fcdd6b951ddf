package wasm

import (
	"errors"
	"fmt"
)

// reader decodes the parts of the WebAssembly binary format the loop
// instrumentation needs. The first error sticks: later reads return zero
// values, and callers check err once.
type reader struct {
	b   []byte
	pos int
	err error
}

var errTruncated = errors.New("unexpected end of the module")

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.pos = len(r.b)
}

func (r *reader) byte() byte {
	if r.pos >= len(r.b) {
		r.fail(errTruncated)
		return 0
	}
	c := r.b[r.pos]
	r.pos++
	return c
}

func (r *reader) bytes(n int) []byte {
	if n < 0 || n > len(r.b)-r.pos {
		r.fail(errTruncated)
		return nil
	}
	out := r.b[r.pos : r.pos+n]
	r.pos += n
	return out
}

// leb skips a LEB128 number of at most maxBytes bytes and returns its low
// 64 bits, unsigned.
func (r *reader) leb(maxBytes int) uint64 {
	var v uint64
	for i := 0; i < maxBytes; i++ {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		if i < 10 {
			v |= uint64(c&0x7f) << (7 * i)
		}
		if c&0x80 == 0 {
			return v
		}
	}
	r.fail(errors.New("a LEB128 number is too long"))
	return 0
}

func (r *reader) u32() uint32 {
	v := r.leb(5)
	if v > 1<<32-1 {
		r.fail(errors.New("a u32 is out of range"))
		return 0
	}
	return uint32(v)
}

func (r *reader) name() string {
	n := r.u32()
	return string(r.bytes(int(n)))
}

// valType skips a value type: one byte, or a (nullable) reference to a
// heap type.
func (r *reader) valType() {
	if c := r.byte(); c == 0x63 || c == 0x64 {
		r.leb(5) // heap type, s33
	}
}

// blockType skips a block type: empty (0x40), a value type, or a type
// index as a signed 33-bit number.
func (r *reader) blockType() {
	c := r.byte()
	switch {
	case c == 0x63 || c == 0x64:
		r.leb(5)
	case c&0x80 == 0:
		// One byte: empty, a value type or a small type index.
	default:
		r.leb(4) // the rest of a multi-byte type index
	}
}

func (r *reader) limits() {
	flags := r.byte()
	r.leb(10)
	if flags&0x01 != 0 {
		r.leb(10)
	}
}

// memarg skips a memory access's alignment (with, under multi-memory, a
// memory index) and offset.
func (r *reader) memarg() {
	if align := r.u32(); align&0x40 != 0 {
		r.u32()
	}
	r.leb(10)
}

// immediates skips the immediates of the instruction whose opcode was just
// read. Opcodes wazero does not know are an error, so a module is never
// half-understood.
func (r *reader) immediates(op byte) {
	switch {
	case op <= 0x01, op == 0x05, op == 0x0a, op == 0x0b, op == 0x0f, op == 0x19, op == 0x1a, op == 0x1b,
		op >= 0x45 && op <= 0xc4, op == 0xd1, op == 0xd3, op == 0xd4:
		// unreachable, nop, else, throw_ref, end, return, catch_all, drop,
		// select, numeric instructions, ref.is_null, ref.eq, ref.as_non_null:
		// no immediate.
	case op >= 0x02 && op <= 0x04, op == 0x06: // block, loop, if, try
		r.blockType()
	case op == 0x07, op == 0x08, op == 0x09, op == 0x0c, op == 0x0d, op == 0x10, op == 0x12,
		op == 0x14, op == 0x15, op == 0x18, op >= 0x20 && op <= 0x26, op == 0xd2, op == 0xd5, op == 0xd6:
		// catch, throw, rethrow, br, br_if, call, return_call, call_ref,
		// return_call_ref, delegate, local/global/table get and set,
		// ref.func, br_on_null, br_on_non_null: one index.
		r.u32()
	case op == 0x0e: // br_table
		n := r.u32()
		for i := uint32(0); i <= n && r.err == nil; i++ {
			r.u32()
		}
	case op == 0x11, op == 0x13: // call_indirect, return_call_indirect
		r.u32()
		r.u32()
	case op == 0x1c: // select with types
		n := r.u32()
		for i := uint32(0); i < n && r.err == nil; i++ {
			r.valType()
		}
	case op == 0x1f: // try_table
		r.blockType()
		n := r.u32()
		for i := uint32(0); i < n && r.err == nil; i++ {
			if kind := r.byte(); kind <= 0x01 {
				r.u32() // tag
			}
			r.u32() // label
		}
	case op >= 0x28 && op <= 0x3e: // loads and stores
		r.memarg()
	case op == 0x3f, op == 0x40: // memory.size, memory.grow
		r.u32()
	case op == 0x41: // i32.const
		r.leb(5)
	case op == 0x42: // i64.const
		r.leb(10)
	case op == 0x43:
		r.bytes(4)
	case op == 0x44:
		r.bytes(8)
	case op == 0xd0: // ref.null
		r.leb(5)
	case op == 0xfc:
		r.miscImmediates(r.u32())
	case op == 0xfd:
		r.vectorImmediates(r.u32())
	case op == 0xfe:
		if sub := r.u32(); sub == 0x03 { // atomic.fence
			r.byte()
		} else {
			r.memarg()
		}
	default:
		r.fail(fmt.Errorf("unknown opcode %#x", op))
	}
}

// miscImmediates skips the immediates of a 0xfc-prefixed instruction.
func (r *reader) miscImmediates(sub uint32) {
	switch {
	case sub <= 7: // saturating truncations
	case sub == 8, sub == 10, sub == 12, sub == 14: // memory.init, memory.copy, table.init, table.copy
		r.u32()
		r.u32()
	case sub == 9, sub == 11, sub == 13, sub >= 15 && sub <= 17: // data.drop, memory.fill, elem.drop, table.grow/size/fill
		r.u32()
	default:
		r.fail(fmt.Errorf("unknown instruction 0xfc %d", sub))
	}
}

// vectorImmediates skips the immediates of a 0xfd-prefixed (SIMD)
// instruction.
func (r *reader) vectorImmediates(sub uint32) {
	switch {
	case sub <= 0x0b, sub == 0x5c, sub == 0x5d: // loads, stores, load_zero
		r.memarg()
	case sub == 0x0c, sub == 0x0d: // v128.const, i8x16.shuffle
		r.bytes(16)
	case sub >= 0x15 && sub <= 0x22: // extract and replace lane
		r.byte()
	case sub >= 0x54 && sub <= 0x5b: // load and store lane
		r.memarg()
		r.byte()
	}
}

// uleb encodes v as an unsigned LEB128 number.
func uleb(v uint64) []byte {
	var out []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(out, c)
		}
		out = append(out, c|0x80)
	}
}

// sleb encodes v as a signed LEB128 number.
func sleb(v int64) []byte {
	var out []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(out, c)
		}
		out = append(out, c|0x80)
	}
}
