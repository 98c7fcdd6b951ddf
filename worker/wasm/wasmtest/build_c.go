package wasmtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
)

// ErrNoClang is returned by BuildC when no clang with the wasm32 target,
// lld and wasi-libc is installed.
var ErrNoClang = errors.New("no clang for wasm32-wasi (Debian: clang lld wasi-libc libclang-rt-dev-wasm32)")

// CFlags are the arguments of the documented build command of a C handler
// module: clang CFlags(src, out)...
func CFlags(src, out string) []string {
	return []string{"--target=wasm32-wasi", "--sysroot=/usr", "-O2", "-mexec-model=reactor", "-o", out, src}
}

// BuildC compiles the C source src (resolved in dir; "" is the working
// directory) into the reactor module out with clang for wasm32-wasi.
func BuildC(ctx context.Context, dir, src, out string) error {
	if _, err := exec.LookPath("clang"); err != nil {
		return ErrNoClang
	}
	args := CFlags(src, out)
	cmd := exec.CommandContext(ctx, "clang", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if bytes.Contains(stderr.Bytes(), []byte("wasi")) || bytes.Contains(stderr.Bytes(), []byte("wasm-ld")) ||
			bytes.Contains(stderr.Bytes(), []byte("unable to create target")) {
			return fmt.Errorf("%w: %s", ErrNoClang, bytes.TrimSpace(stderr.Bytes()))
		}
		return fmt.Errorf("clang %v: %w\n%s", args, err, stderr.Bytes())
	}
	return nil
}
