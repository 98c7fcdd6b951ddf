package wasmtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BuildGo builds the Go guest package pkg (a directory such as
// ./worker/wasm/examples/arith, resolved in dir; "" is the working
// directory) into the module file out, with the documented command:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o out pkg
//
// Go's build cache makes a rebuild of unchanged sources take a fraction of
// a second. GOFLAGS is cleared: a -race in it does not apply to wasip1.
func BuildGo(ctx context.Context, dir, pkg, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-buildmode=c-shared", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s for wasip1: %w\n%s", pkg, err, b)
	}
	return nil
}

// CompilationCacheDir is where the tests and tasker bench keep compiled
// modules (wasm.Config.CompilationCacheDir) between runs: compiling a Go
// guest takes a second, and minutes under the race detector.
func CompilationCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "tasker-go", "wasm-test-cache")
	}
	return filepath.Join(os.TempDir(), "tasker-go-wasm-test-cache")
}
