package wasm_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/worker/wasm"
	"github.com/tasker-go/tasker/worker/wasm/wasmtest"
)

// The test modules are built from source in the test run, once per test
// binary, into guestRoot.
var (
	guestRoot string
	guestsMu  sync.Mutex
	built     = map[string]error{}
)

// goGuests are the Go guest packages tests use, by module name.
var goGuests = map[string]string{
	"arith":     "./examples/arith",
	"misbehave": "./testdata/guests/misbehave",
}

// guestModule builds (once) the named test module and returns its path;
// a test needing the C guest skips without clang.
func guestModule(t testing.TB, name string) string {
	t.Helper()
	out, err := buildModule(name)
	if errors.Is(err, errNoClang) {
		t.Skip("the C guest needs clang with the wasm32 target, lld and wasi-libc (Debian: clang lld wasi-libc libclang-rt-dev-wasm32; scripts/ensure-services.sh installs them)")
	}
	require.NoError(t, err, "building the %s test module", name)
	return out
}

// haveC reports whether the C guest can be built here.
func haveC(t testing.TB) bool {
	t.Helper()
	_, err := buildModule("arith-c")
	if errors.Is(err, errNoClang) {
		return false
	}
	require.NoError(t, err, "building the C guest")
	return true
}

func buildModule(name string) (string, error) {
	guestsMu.Lock()
	defer guestsMu.Unlock()
	out := filepath.Join(guestRoot, name+".wasm")
	err, done := built[name]
	if !done {
		switch name {
		case "arith-c":
			err = buildC(out)
		case "trapper":
			err = os.WriteFile(out, wasmtest.StubModule(1, "trap", "loop"), 0o644)
		case "abi2":
			err = os.WriteFile(out, wasmtest.StubModule(2, "trap", "loop"), 0o644)
		default:
			err = buildGo(goGuests[name], out)
		}
		if err == nil {
			err = warm(out)
		}
		built[name] = err
	}
	return out, err
}

// cacheDir keeps the compiled test modules between test runs.
func cacheDir() string { return wasmtest.CompilationCacheDir() }

// warm compiles a module into the cache once, so that tests running in
// parallel do not all compile it at the same time.
func warm(path string) error {
	ctx := context.Background()
	x, err := wasm.New(ctx, wasm.Config{ModulePaths: []string{filepath.Dir(path)}, CompilationCacheDir: cacheDir()}, nil)
	if err != nil {
		return err
	}
	defer func() { _ = x.Close(ctx) }()
	_, err = x.Handlers(ctx, strings.TrimSuffix(filepath.Base(path), ".wasm"))
	return err
}

func buildGo(pkg, out string) error { return wasmtest.BuildGo(context.Background(), "", pkg, out) }

var errNoClang = wasmtest.ErrNoClang

// buildC compiles the C example with clang for wasm32-wasi as a reactor.
func buildC(out string) error {
	return wasmtest.BuildC(context.Background(), "", filepath.Join("examples", "arith-c", "arith.c"), out)
}
