package wasm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// instance is one instantiated module, used by one step at a time.
type instance struct {
	mod    api.Module
	mem    api.Memory
	alloc  api.Function
	free   api.Function
	funcs  map[string]api.Function
	stderr *headBuffer
	stack  []uint64
	// limitPages is the memory limit, for failure messages.
	limitPages uint32
}

// instantiate makes a new instance of v and runs its initialiser.
func (v *version) instantiate(ctx context.Context) (*instance, error) {
	cfg := v.x.cfg
	stderr := &headBuffer{}
	mc := wazero.NewModuleConfig().WithName("").WithStdout(io.Discard).WithStderr(stderr).WithStartFunctions()
	if cfg.SystemClock {
		mc = mc.WithSysWalltime().WithSysNanotime().WithSysNanosleep()
	}
	if cfg.SystemRandom {
		mc = mc.WithRandSource(rand.Reader)
	}
	for k, val := range cfg.Env {
		mc = mc.WithEnv(k, val)
	}
	mod, err := v.x.rt.InstantiateModule(ctx, v.compiled, mc)
	if err != nil {
		return nil, fmt.Errorf("instantiating wasm module %s: %w%s", v.name, err, outputNote(stderr))
	}
	inst := &instance{mod: mod, mem: mod.Memory(), alloc: mod.ExportedFunction(exportAlloc),
		free: mod.ExportedFunction(exportFree), funcs: map[string]api.Function{}, stderr: stderr, stack: make([]uint64, 2),
		limitPages: cfg.memoryLimitPages()}
	if init := mod.ExportedFunction(exportInitialize); init != nil {
		if _, err := init.Call(ctx); err != nil {
			inst.close()
			return nil, fmt.Errorf("initialising wasm module %s: %w%s", v.name, err, outputNote(stderr))
		}
	}
	res, err := mod.ExportedFunction(exportABIVersion).Call(ctx)
	if err != nil {
		inst.close()
		return nil, fmt.Errorf("wasm module %s: %s: %w", v.name, exportABIVersion, err)
	}
	if got := api.DecodeI32(res[0]); got != ABIVersion {
		inst.close()
		return nil, fmt.Errorf("wasm module %s speaks handler ABI version %d; this worker speaks version %d", v.name, got, ABIVersion)
	}
	return inst, nil
}

func (i *instance) close() { _ = i.mod.Close(context.Background()) }

// maxEventBytes bounds the step event a module's 32-bit memory can take.
const maxEventBytes = 1 << 30

// callError is a guest call that did not return a result; the instance
// must not be used again.
type callError struct {
	msg string
	err error
}

func (e *callError) Error() string { return e.msg }
func (e *callError) Unwrap() error { return e.err }

// call runs the handler fn on the event and returns the result JSON. A
// callError means the instance is unusable (trap, exit, interruption);
// any other error leaves it usable.
func (i *instance) call(ctx context.Context, name, fn string, event []byte) ([]byte, error) {
	f := i.funcs[fn]
	if f == nil {
		f = i.mod.ExportedFunction(fn)
		i.funcs[fn] = f
	}
	i.stderr.reset()
	if len(event) > maxEventBytes {
		return nil, fmt.Errorf("step event of %d bytes is too large for a wasm32 module", len(event))
	}
	size := uint32(len(event)) //nolint:gosec // bounded just above
	i.stack[0] = api.EncodeU32(size)
	if err := i.alloc.CallWithStack(ctx, i.stack); err != nil {
		return nil, i.failed(ctx, name, exportAlloc, err)
	}
	ptr := api.DecodeU32(i.stack[0])
	if ptr == 0 || !i.mem.Write(ptr, event) {
		return nil, &callError{msg: fmt.Sprintf("wasm module %s: %s(%d) returned %#x, outside its memory of %d bytes%s",
			name, exportAlloc, size, ptr, i.mem.Size(), outputNote(i.stderr))}
	}
	i.stack[0], i.stack[1] = api.EncodeU32(ptr), api.EncodeU32(size)
	if err := f.CallWithStack(ctx, i.stack); err != nil {
		return nil, i.failed(ctx, name, fn, err)
	}
	packed := i.stack[0]
	rptr, rlen := uint32(packed>>32), uint32(packed&0xffffffff)
	view, ok := i.mem.Read(rptr, rlen)
	if !ok {
		return nil, &callError{msg: fmt.Sprintf("wasm handler %s/%s returned a result at %#x of %d bytes, outside its memory of %d bytes",
			name, fn, rptr, rlen, i.mem.Size())}
	}
	out := append([]byte(nil), view...)
	for _, buf := range [][2]uint32{{ptr, size}, {rptr, rlen}} {
		i.stack[0], i.stack[1] = api.EncodeU32(buf[0]), api.EncodeU32(buf[1])
		if err := i.free.CallWithStack(ctx, i.stack); err != nil {
			return nil, i.failed(ctx, name, exportFree, err)
		}
	}
	return out, nil
}

// failed describes a guest call that ended without returning: the step's
// context ended (timeout), the module exited (a Go guest's fatal error:
// out of memory, an unrecovered panic) or it trapped.
func (i *instance) failed(ctx context.Context, name, fn string, err error) error {
	var exit *sys.ExitError
	memory := fmt.Sprintf(" (memory %d MiB in use)", i.mem.Size()>>20)
	if limit := uint64(i.limitPages) << 16; uint64(i.mem.Size()) >= limit-limit/10 {
		memory = fmt.Sprintf(" (memory %d MiB in use: the module reached its memory limit of %d MiB)", i.mem.Size()>>20, limit>>20)
	}
	switch {
	case ctx.Err() != nil:
		return &callError{msg: fmt.Sprintf("wasm handler %s/%s interrupted: %v", name, fn, context.Cause(ctx)), err: ctx.Err()}
	case errors.As(err, &exit):
		return &callError{msg: fmt.Sprintf("wasm handler %s/%s: the module exited with code %d%s%s",
			name, fn, exit.ExitCode(), memory, outputNote(i.stderr)), err: err}
	default:
		// The first line names the trap; the wasm stack trace follows.
		return &callError{msg: fmt.Sprintf("wasm handler %s/%s trapped: %s%s%s", name, fn, firstLine(err.Error()), memory,
			outputNote(i.stderr)), err: err}
	}
}

func firstLine(s string) string {
	if before, _, ok := strings.Cut(s, "\n"); ok {
		return before
	}
	return s
}

// outputNote is the first paragraph of what the guest wrote to standard
// error (a Go guest's panic or fatal error, without the goroutine dump),
// when it wrote anything.
func outputNote(b *headBuffer) string {
	s := strings.TrimSpace(b.String())
	if before, _, ok := strings.Cut(s, "\n\n"); ok {
		s = before
	}
	if len(s) > maxOutputNote {
		s = s[:maxOutputNote] + "…"
	}
	if s == "" {
		return ""
	}
	return ": " + s
}

// maxOutputNote bounds the guest output quoted in a failure.
const maxOutputNote = 512
