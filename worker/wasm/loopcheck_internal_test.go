package wasm

import (
	"bytes"
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero"

	"github.com/tasker-go/tasker/worker/wasm/wasmtest"
)

// instrumentedRuntime is a runtime without wazero's own interruption and
// with the host's loop check, as the executor makes it.
func instrumentedRuntime(t *testing.T) wazero.Runtime {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(false))
	t.Cleanup(func() { _ = rt.Close(ctx) })
	require.NoError(t, instantiateLoopCheck(ctx, rt))
	return rt
}

// TestInstrumentedLoopStopsWhenItsContextEnds runs `loop br 0 end` with
// only the instrumentation's checks to end it. While it loops, the Go
// runtime must still be able to stop the world (a garbage collection):
// native code that never calls back into Go would block it, and the whole
// process with it.
func TestInstrumentedLoopStopsWhenItsContextEnds(t *testing.T) {
	bin, err := instrumentLoops(wasmtest.StubModule(1, "loop"))
	require.NoError(t, err)
	rt := instrumentedRuntime(t)
	mod, err := rt.Instantiate(context.Background(), bin)
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		close(started)
		_, err := mod.ExportedFunction("loop").Call(ctx, 0, 0)
		done <- err
	}()
	<-started
	for range 3 {
		runtime.GC()
	}
	select {
	case err := <-done:
		t.Fatalf("the loop ended by itself: %v", err)
	default:
	}
	cancel()
	require.ErrorIs(t, <-done, errInterrupted)

	// The other exports still answer: the checks changed nothing else.
	res, err := mod.ExportedFunction("tasker_abi_version").Call(context.Background())
	require.NoError(t, err)
	require.Equal(t, uint64(1), res[0])
}

// TestInstrumentLoopsRejectsBrokenModules: a truncated or corrupted file
// is an error, never a panic (the file comes from a module path).
func TestInstrumentLoopsRejectsBrokenModules(t *testing.T) {
	good := wasmtest.StubModule(1, "loop", "trap")
	_, err := instrumentLoops(good)
	require.NoError(t, err)
	for n := range len(good) {
		_, err := instrumentLoops(good[:n])
		if n < 8 || n > len(good)-5 {
			// Inside the header or inside the code section, the last one
			// (a cut between sections leaves a valid, shorter module).
			require.Error(t, err, "a module cut at %d bytes", n)
		}
	}
	for i := 8; i < len(good); i++ {
		bad := bytes.Clone(good)
		bad[i] ^= 0xff
		_, _ = instrumentLoops(bad) // must not panic; may or may not fail
	}
	_, err = instrumentLoops([]byte("not wasm at all"))
	require.ErrorContains(t, err, "not a WebAssembly module")
}

// TestInstrumentLoopsKeepsTheModuleValid instruments the stub module (no
// type of its own for the check, no import, no global: all added) and
// checks the result compiles, keeps every export, and has one check per
// loop.
func TestInstrumentLoopsKeepsTheModuleValid(t *testing.T) {
	ctx := context.Background()
	bin, err := instrumentLoops(wasmtest.StubModule(1, "loop", "other"))
	require.NoError(t, err)
	cm, err := instrumentedRuntime(t).CompileModule(ctx, bin)
	require.NoError(t, err)
	for _, name := range []string{"tasker_abi_version", "tasker_alloc", "tasker_free", "loop", "other"} {
		require.Contains(t, cm.ExportedFunctions(), name)
	}
	require.Len(t, cm.ImportedFunctions(), 1)
	mod, name, _ := cm.ImportedFunctions()[0].Import()
	require.Equal(t, []string{loopCheckModule, loopCheckFunction}, []string{mod, name})
	// The stub has no global and no import: the budget is global 0, the
	// check function 0.
	check := []byte{0x23, 0x00, 0x45, 0x04, 0x40, 0x10, 0x00}
	require.Equal(t, 1, bytes.Count(bin, check), "one loop, one check")
}

func TestLEB128(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 300, 1 << 32, 1<<64 - 1} {
		r := &reader{b: uleb(v)}
		require.Equal(t, v, r.leb(10), "%d", v)
		require.NoError(t, r.err)
	}
	require.Equal(t, []byte{0x80, 0x80, 0x04}, sleb(loopCheckBudget))
	require.Equal(t, []byte{0x3f}, sleb(63))
	require.Equal(t, []byte{0xc0, 0x00}, sleb(64))
	require.Equal(t, []byte{0x7f}, sleb(-1))
}
