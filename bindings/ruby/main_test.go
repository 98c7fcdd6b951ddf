// Package ruby_test drives bindings/ruby, the Ruby handler gem: it runs the
// gem's minitest suite, and end to end it builds the worker library
// (bindings/capi, -buildmode=c-shared), starts orchestration in-process and
// bin/tasker-worker-ruby as a child process on a fresh schema, and checks
// tasker-core's Ruby fixture templates, every error kind, crash recovery,
// graceful shutdown and memory over many steps.
package ruby_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

var (
	libOnce sync.Once
	libDir  string
	libPath string
	libErr  error
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if libDir != "" {
			_ = os.RemoveAll(libDir)
		}
		os.Exit(code)
	}))
}

// rubyPath returns the ruby interpreter, or skips: scripts/test.sh installs
// it (scripts/ensure-services.sh) on a Debian machine.
func rubyPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ruby")
	if err != nil {
		t.Skip("ruby is not installed (scripts/ensure-services.sh installs Debian's ruby); skipping the Ruby binding tests")
	}
	return p
}

// library builds libtasker_worker.so once per test run.
func library(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the worker library and starts processes")
	}
	if _, err := os.Stat(filepath.Join("..", "capi")); err != nil {
		t.Skip("bindings/capi (the worker library) is not in this tree yet")
	}
	libOnce.Do(func() {
		libDir, libErr = os.MkdirTemp("", "tasker-ruby-lib-")
		if libErr != nil {
			return
		}
		libPath = filepath.Join(libDir, "libtasker_worker.so")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", libPath, "./bindings/capi")
		cmd.Dir = filepath.Join("..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			libErr = fmt.Errorf("building the worker library: %v\n%s", err, out)
		}
	})
	require.NoError(t, libErr)
	return libPath
}

// proc is a child process with its combined output captured line by line.
type proc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    strings.Builder
	lines  chan string
	exited chan struct{}
	err    error
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// startProc starts name with args in dir; env is added to this process's
// environment. The process is killed when the test ends.
func startProc(t *testing.T, dir string, env []string, name string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &proc{cmd: cmd, lines: make(chan string, 10000), exited: make(chan struct{})}
	require.NoError(t, cmd.Start())
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		p.err = cmd.Wait()
		_ = pw.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(name), p.output())
		}
	})
	return p
}

// waitLine waits for an output line matching re.
func (p *proc) waitLine(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.After(90 * time.Second)
	for {
		select {
		case l := <-p.lines:
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-p.exited:
			t.Fatalf("process exited before printing %s: %v\n%s", re, p.err, p.output())
		case <-deadline:
			t.Fatalf("no line matching %s\n%s", re, p.output())
		}
	}
}
