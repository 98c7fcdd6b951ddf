package wasm

import (
	"context"
	"fmt"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// errnoNotCapable is WASI's ENOTCAPABLE: the sandbox grants no such right.
const errnoNotCapable = 76

// stderrLimit bounds the guest output kept for a failure message.
const stderrLimit = 4096

// callState is what host functions record during one guest call; it
// travels in the call's context.
type callState struct {
	mu     sync.Mutex
	denied []string // files the guest tried to open
}

type callStateKey struct{}

func (s *callState) deny(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.denied) < 8 {
		s.denied = append(s.denied, path)
	}
}

func (s *callState) deniedFiles() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.denied...)
}

// instantiateWASI instantiates WASI preview 1 with path_open replaced by
// a function that records the path and refuses: modules get no preopened
// directories, so every other file-system call fails on its own.
func instantiateWASI(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(wasi_snapshot_preview1.ModuleName)
	wasi_snapshot_preview1.NewFunctionExporter().ExportFunctions(b)
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(denyPathOpen),
		[]api.ValueType{i32, i32, i32, i32, i32, i64, i64, i32, i32}, []api.ValueType{i32}).
		WithParameterNames("fd", "dirflags", "path", "path_len", "oflags", "fs_rights_base", "fs_rights_inheriting", "fdflags", "result.opened_fd").
		Export("path_open")
	_, err := b.Instantiate(ctx)
	return err
}

// denyPathOpen is path_open: it records the path the guest asked for and
// answers ENOTCAPABLE.
func denyPathOpen(ctx context.Context, mod api.Module, stack []uint64) {
	ptr, size := api.DecodeU32(stack[2]), api.DecodeU32(stack[3])
	path := "?"
	if b, ok := mod.Memory().Read(ptr, min(size, 512)); ok {
		path = string(b)
	}
	if s, ok := ctx.Value(callStateKey{}).(*callState); ok {
		s.deny(path)
	}
	stack[0] = errnoNotCapable
}

// headBuffer keeps the first stderrLimit bytes written to it: where a
// guest's runtime says what went wrong, before any stack dump.
type headBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *headBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := stderrLimit - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *headBuffer) reset() {
	b.mu.Lock()
	b.buf = b.buf[:0]
	b.mu.Unlock()
}

func (b *headBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// describeDenied names the files a guest tried to open.
func describeDenied(paths []string) string {
	return fmt.Sprintf("the handler tried to open %q: WASM handlers have no file system access", paths)
}
