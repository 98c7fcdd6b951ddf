package wasm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// How a running module is stopped when its step's context ends.
//
// wazero can do it itself (RuntimeConfig.WithCloseOnContextDone), but its
// compiler then leaves the native code for the Go runtime at every loop
// iteration to ask whether the module was closed. Go guests are made of
// loops, and those exits made the interruptible Go guest three times slower
// than the uninterruptible one.
//
// Instead, before compiling, the executor gives the module a countdown (an
// i32 global of its own) and, at the head of every loop, the instructions
//
//	global.get $budget
//	i32.eqz
//	if
//	  call $loop_check       ;; the host: is the step's context over?
//	  global.set $budget
//	end
//	global.get $budget
//	i32.const 1
//	i32.sub
//	global.set $budget
//
// which stay in native code but for one call to the host every
// loopCheckBudget iterations. That call (an import the executor provides)
// fails the call when the step's context ended, which is reported as the
// interruption (the instance is discarded), and otherwise refills the
// budget. The calls matter for a second reason: native code cannot be
// preempted, and the Go runtime's stop-the-world phases (the garbage
// collector's) wait for every goroutine, so a loop that never came back
// to Go would freeze the whole worker, the timer that should stop it
// included.
//
// Straight-line code ends by itself and unbounded recursion exhausts the
// stack, so loop heads are the only places a check is needed (they are
// where wazero checked).

// The import the instrumentation adds, provided by the executor's host
// module. A module importing from this module name itself gets the
// executor's functions.
const (
	loopCheckModule   = "tasker_host"
	loopCheckFunction = "loop_check"
)

// loopCheckBudget is how many loop iterations run between two calls to the
// host: a few microseconds to a few milliseconds of guest work, against
// the roughly microsecond a call costs.
const loopCheckBudget = 1 << 16

// errInterrupted ends a guest call whose step's context ended; failed
// reports it as the interruption.
var errInterrupted = errors.New("the step's context ended")

// instantiateLoopCheck provides the host function the instrumented loops
// call.
func instantiateLoopCheck(ctx context.Context, rt wazero.Runtime) error {
	_, err := rt.NewHostModuleBuilder(loopCheckModule).
		NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(loopCheck), nil, []api.ValueType{api.ValueTypeI32}).
		Export(loopCheckFunction).
		Instantiate(ctx)
	return err
}

// loopCheck stops the guest (a panic wazero turns into the call's error)
// when the call's context ended, and otherwise returns the next budget.
func loopCheck(ctx context.Context, _ api.Module, stack []uint64) {
	if ctx.Err() != nil {
		panic(errInterrupted)
	}
	stack[0] = api.EncodeU32(loopCheckBudget)
}

// Section ids of the binary format the instrumentation reads or writes.
const (
	sectionCustom   = 0
	sectionType     = 1
	sectionImport   = 2
	sectionTable    = 4
	sectionGlobal   = 6
	sectionExport   = 7
	sectionStart    = 8
	sectionElement  = 9
	sectionCode     = 10
	sectionTag      = 13
	sectionDataCnt  = 12
	sectionNotFound = math.MaxUint8
)

// sectionRank orders the sections as the binary format requires (the tag
// section sits between memory and global; data count between element and
// code).
func sectionRank(id byte) int {
	switch id {
	case sectionTag:
		return 55
	case sectionDataCnt:
		return 95
	default:
		return int(id) * 10
	}
}

// instrumentation is the state of one module's rewrite.
type instrumentation struct {
	types           uint32 // function types: the new one's index
	importedFuncs   uint32 // the new import's index; defined functions shift by one
	importedGlobals uint32
	definedGlobals  uint32
	check           []byte // the code inserted at each loop head
}

// shift maps a function index of the original module to the rewritten one.
func (in *instrumentation) shift(idx uint32) uint32 {
	if idx >= in.importedFuncs {
		return idx + 1
	}
	return idx
}

type section struct {
	id   byte
	body []byte
}

// instrumentLoops returns the module with the loop checks: a new function
// type and import (the host's loop_check), a new global (the budget), a
// check at the head of every loop, and every reference to a defined
// function renumbered (imports come first in the index space). The name
// section keeps function and local names; custom sections holding DWARF
// debugging information are dropped (the code offsets they describe
// moved).
func instrumentLoops(bin []byte) ([]byte, error) {
	if len(bin) < 8 || string(bin[:4]) != "\x00asm" {
		return nil, errors.New("not a WebAssembly module (no \\0asm header)")
	}
	var sections []section
	r := &reader{b: bin, pos: 8}
	for r.pos < len(bin) {
		id := r.byte()
		size := r.u32()
		body := r.bytes(int(size))
		if r.err != nil {
			return nil, fmt.Errorf("reading section %d: %w", id, r.err)
		}
		if id == sectionCustom {
			nr := &reader{b: body}
			if name := nr.name(); nr.err == nil && strings.HasPrefix(name, ".debug_") {
				continue
			}
		}
		sections = append(sections, section{id, body})
	}

	in := &instrumentation{}
	for _, s := range sections {
		var err error
		switch s.id {
		case sectionType:
			r := &reader{b: s.body}
			in.types, err = r.u32(), r.err
		case sectionImport:
			in.importedFuncs, in.importedGlobals, err = countImports(s.body)
		case sectionGlobal:
			r := &reader{b: s.body}
			in.definedGlobals, err = r.u32(), r.err
		}
		if err != nil {
			return nil, fmt.Errorf("reading section %d: %w", s.id, err)
		}
	}
	budget := uleb(uint64(in.importedGlobals + in.definedGlobals))
	call := uleb(uint64(in.importedFuncs))
	in.check = concat([]byte{0x23}, budget, []byte{0x45, 0x04, 0x40, 0x10}, call, []byte{0x24}, budget, []byte{0x0b},
		[]byte{0x23}, budget, []byte{0x41, 0x01, 0x6b, 0x24}, budget)

	newType := []byte{0x60, 0x00, 0x01, 0x7f} // () -> i32
	newImport := concat(uleb(uint64(len(loopCheckModule))), []byte(loopCheckModule),
		uleb(uint64(len(loopCheckFunction))), []byte(loopCheckFunction), []byte{0x00}, uleb(uint64(in.types)))
	newGlobal := concat([]byte{0x7f, 0x01, 0x41}, sleb(loopCheckBudget), []byte{0x0b}) // mutable i32 = budget

	out := append([]byte(nil), bin[:8]...)
	emit := func(id byte, body []byte) {
		out = append(out, id)
		out = append(out, uleb(uint64(len(body)))...)
		out = append(out, body...)
	}
	missing := map[byte][]byte{
		sectionType:   concat([]byte{1}, newType),
		sectionImport: concat([]byte{1}, newImport),
		sectionGlobal: concat([]byte{1}, newGlobal),
	}
	// addMissing writes the sections the module lacked that must come
	// before a section of the given id.
	addMissing := func(before byte) {
		for _, id := range []byte{sectionType, sectionImport, sectionGlobal} {
			if body, ok := missing[id]; ok && sectionRank(id) < sectionRank(before) {
				emit(id, body)
				delete(missing, id)
			}
		}
	}
	for _, s := range sections {
		if s.id != sectionCustom {
			addMissing(s.id)
		}
		var body []byte
		var err error
		switch s.id {
		case sectionType:
			body = appendToVector(s.body, newType)
			delete(missing, s.id)
		case sectionImport:
			body = appendToVector(s.body, newImport)
			delete(missing, s.id)
		case sectionGlobal:
			body, err = in.globals(s.body, newGlobal)
			delete(missing, s.id)
		case sectionTable:
			body, err = in.tables(s.body)
		case sectionExport:
			body, err = in.exports(s.body)
		case sectionStart:
			r := &reader{b: s.body}
			body, err = uleb(uint64(in.shift(r.u32()))), r.err
		case sectionElement:
			body, err = in.elements(s.body)
		case sectionCode:
			body, err = in.code(s.body)
		case sectionCustom:
			body, err = in.custom(s.body)
		default:
			body = s.body
		}
		if err != nil {
			return nil, fmt.Errorf("section %d: %w", s.id, err)
		}
		if body != nil {
			emit(s.id, body)
		}
	}
	addMissing(sectionNotFound)
	return out, nil
}

func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// appendToVector returns a vector (count, then items) with one more item.
func appendToVector(body []byte, item []byte) []byte {
	r := &reader{b: body}
	n := r.u32()
	return concat(uleb(uint64(n)+1), body[r.pos:], item)
}

// countImports counts the function and global imports, which come before
// the module's own functions and globals in their index spaces.
func countImports(body []byte) (funcs, globals uint32, err error) {
	r := &reader{b: body}
	n := r.u32()
	for i := uint32(0); i < n && r.err == nil; i++ {
		r.name()
		r.name()
		switch kind := r.byte(); kind {
		case 0x00: // function: type index
			r.u32()
			funcs++
		case 0x01: // table: reference type, limits
			r.valType()
			r.limits()
		case 0x02: // memory: limits
			r.limits()
		case 0x03: // global: value type, mutability
			r.valType()
			r.byte()
			globals++
		case 0x04: // tag: attribute, type index
			r.byte()
			r.u32()
		default:
			r.fail(fmt.Errorf("unknown import kind %#x", kind))
		}
	}
	return funcs, globals, r.err
}

// instructions copies instructions from r to out until the end of a
// constant expression (expr) or of the reader (a function body),
// renumbering function references and, in function bodies, inserting the
// check after each loop's block type.
func (in *instrumentation) instructions(out []byte, r *reader, expr bool) []byte {
	for r.err == nil && r.pos < len(r.b) {
		start := r.pos
		op := r.byte()
		switch op {
		case 0x10, 0x12, 0xd2: // call, return_call, ref.func
			idx := r.u32()
			out = append(out, op)
			out = append(out, uleb(uint64(in.shift(idx)))...)
			continue
		}
		r.immediates(op)
		out = append(out, r.b[start:r.pos]...)
		switch {
		case op == 0x0b && expr:
			return out
		case op == 0x03 && !expr:
			out = append(out, in.check...)
		}
	}
	if expr && r.err == nil {
		r.fail(errors.New("a constant expression has no end"))
	}
	return out
}

// globals renumbers the globals' initial values and appends the budget.
func (in *instrumentation) globals(body, newGlobal []byte) ([]byte, error) {
	r := &reader{b: body}
	n := r.u32()
	out := uleb(uint64(n) + 1)
	for i := uint32(0); i < n && r.err == nil; i++ {
		start := r.pos
		r.valType()
		r.byte()
		out = append(out, body[start:r.pos]...)
		out = in.instructions(out, r, true)
	}
	return append(out, newGlobal...), r.err
}

// tables renumbers the initial values of tables that have one.
func (in *instrumentation) tables(body []byte) ([]byte, error) {
	r := &reader{b: body}
	n := r.u32()
	out := uleb(uint64(n))
	for i := uint32(0); i < n && r.err == nil; i++ {
		start := r.pos
		withInit := r.pos+1 < len(body) && body[r.pos] == 0x40 && body[r.pos+1] == 0x00
		if withInit {
			r.bytes(2)
		}
		r.valType()
		r.limits()
		out = append(out, body[start:r.pos]...)
		if withInit {
			out = in.instructions(out, r, true)
		}
	}
	return out, r.err
}

// exports renumbers the exported functions.
func (in *instrumentation) exports(body []byte) ([]byte, error) {
	r := &reader{b: body}
	n := r.u32()
	out := uleb(uint64(n))
	for i := uint32(0); i < n && r.err == nil; i++ {
		start := r.pos
		r.name()
		kind := r.byte()
		out = append(out, body[start:r.pos]...)
		idx := r.u32()
		if kind == 0x00 {
			idx = in.shift(idx)
		}
		out = append(out, uleb(uint64(idx))...)
	}
	return out, r.err
}

// elements renumbers the functions of element segments, in each of the
// eight encodings.
func (in *instrumentation) elements(body []byte) ([]byte, error) {
	r := &reader{b: body}
	n := r.u32()
	out := uleb(uint64(n))
	for i := uint32(0); i < n && r.err == nil; i++ {
		flags := r.u32()
		out = append(out, uleb(uint64(flags))...)
		if flags > 7 {
			return nil, fmt.Errorf("element segment %d: unknown flags %d", i, flags)
		}
		if flags&0x02 != 0 && flags&0x01 == 0 { // explicit table index
			out = append(out, uleb(uint64(r.u32()))...)
		}
		if flags&0x01 == 0 { // active: offset expression
			out = in.instructions(out, r, true)
		}
		if flags&0x03 != 0 { // element kind (indices) or reference type (expressions)
			start := r.pos
			if flags&0x04 == 0 {
				r.byte()
			} else {
				r.valType()
			}
			out = append(out, body[start:r.pos]...)
		}
		count := r.u32()
		out = append(out, uleb(uint64(count))...)
		for j := uint32(0); j < count && r.err == nil; j++ {
			if flags&0x04 == 0 {
				out = append(out, uleb(uint64(in.shift(r.u32())))...)
			} else {
				out = in.instructions(out, r, true)
			}
		}
	}
	return out, r.err
}

// code instruments every function body of the code section.
func (in *instrumentation) code(body []byte) ([]byte, error) {
	r := &reader{b: body}
	n := r.u32()
	out := uleb(uint64(n))
	var fn []byte
	for i := uint32(0); i < n; i++ {
		size := r.u32()
		code := r.bytes(int(size))
		if r.err != nil {
			return nil, fmt.Errorf("reading function body %d: %w", i, r.err)
		}
		fr := &reader{b: code}
		locals := fr.u32()
		for j := uint32(0); j < locals && fr.err == nil; j++ {
			fr.u32()
			fr.valType()
		}
		fn = append(fn[:0], code[:fr.pos]...)
		fn = in.instructions(fn, fr, false)
		if fr.err != nil {
			return nil, fmt.Errorf("function body %d: %w", i, fr.err)
		}
		out = append(out, uleb(uint64(len(fn)))...)
		out = append(out, fn...)
	}
	if r.pos != len(body) {
		return nil, errors.New("the code section has bytes after its last function body")
	}
	return out, nil
}

// custom renumbers the function and local names of the name section and
// drops its other subsections (labels, types and the like, which are only
// for debuggers). Other custom sections are kept as they are.
func (in *instrumentation) custom(body []byte) ([]byte, error) {
	r := &reader{b: body}
	if r.name() != "name" || r.err != nil {
		return body, nil
	}
	out := append([]byte(nil), body[:r.pos]...)
	for r.pos < len(body) && r.err == nil {
		id := r.byte()
		size := r.u32()
		sub := r.bytes(int(size))
		if r.err != nil {
			break
		}
		switch id {
		case 0: // module name
		case 1, 2: // function names; local names: both start with a function index
			sr := &reader{b: sub}
			n := sr.u32()
			rewritten := uleb(uint64(n))
			for i := uint32(0); i < n && sr.err == nil; i++ {
				rewritten = append(rewritten, uleb(uint64(in.shift(sr.u32())))...)
				start := sr.pos
				if id == 1 {
					sr.name()
				} else {
					locals := sr.u32()
					for j := uint32(0); j < locals && sr.err == nil; j++ {
						sr.u32()
						sr.name()
					}
				}
				rewritten = append(rewritten, sub[start:sr.pos]...)
			}
			if sr.err != nil {
				// A malformed name section is only cosmetic: drop it.
				return nil, nil //nolint:nilerr // see above
			}
			sub = rewritten
		default:
			continue
		}
		out = append(out, id)
		out = append(out, uleb(uint64(len(sub)))...)
		out = append(out, sub...)
	}
	if r.err != nil {
		return nil, nil //nolint:nilerr // a malformed name section is dropped
	}
	return out, nil
}
