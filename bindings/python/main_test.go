// Package python_test tests the Python package tasker_core: its own unittest
// suite, an install into a fresh virtual environment, and, with the worker
// library built from bindings/capi, Python workers running tasker-core's
// fixture workflows against an in-process orchestration.
package python_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

// python3 is the interpreter on PATH; the tests skip without one.
func python3(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed (scripts/test.sh installs python3, python3-venv, python3-setuptools and python3-wheel with apt)")
	}
	return p
}

// packageDir is this directory, absolute (go test runs in it).
func packageDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	return dir
}

// library builds libtasker_worker.so from bindings/capi once per run
// ($TASKER_WORKER_LIB, when set, names a library built beforehand).
func library(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("TASKER_WORKER_LIB"); p != "" {
		return p
	}
	root := filepath.Join(packageDir(t), "..", "..")
	if _, err := os.Stat(filepath.Join(root, "bindings", "capi")); err != nil {
		t.Skip("the worker library (bindings/capi) is not in this tree yet")
	}
	libOnce.Do(func() {
		libDir, libErr = os.MkdirTemp("", "tasker-python-lib-")
		if libErr != nil {
			return
		}
		libPath = filepath.Join(libDir, "libtasker_worker.so")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", libPath, "./bindings/capi")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			libErr = fmt.Errorf("building the worker library: %v\n%s", err, out)
		}
	})
	require.NoError(t, libErr)
	return libPath
}

// worker is a running `python3 -m tasker_core.worker`.
type worker struct {
	t      testing.TB
	cmd    *exec.Cmd
	id     string
	mu     sync.Mutex
	out    strings.Builder
	lines  chan string
	exited chan struct{}
	err    error
}

var startedLine = regexp.MustCompile(`tasker_core\.worker started worker_id=(\S+)`)

// startWorker runs the Python worker with env and args and waits until it
// says it started.
func startWorker(t testing.TB, env []string, args ...string) *worker {
	t.Helper()
	cmd := exec.Command(python3(t), append([]string{"-m", "tasker_core.worker"}, args...)...)
	cmd.Dir = packageDir(t)
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	w := &worker{t: t, cmd: cmd, lines: make(chan string, 10000), exited: make(chan struct{})}
	require.NoError(t, cmd.Start())
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			w.mu.Lock()
			w.out.WriteString(sc.Text() + "\n")
			w.mu.Unlock()
			select {
			case w.lines <- sc.Text():
			default:
			}
		}
	}()
	go func() {
		w.err = cmd.Wait()
		_ = pw.Close()
		close(w.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-w.exited:
		default:
			_ = cmd.Process.Kill()
			<-w.exited
		}
		if t.Failed() {
			t.Logf("python worker output:\n%s", w.output())
		}
	})
	deadline := time.After(60 * time.Second)
	for {
		select {
		case l := <-w.lines:
			if m := startedLine.FindStringSubmatch(l); m != nil {
				w.id = m[1]
				return w
			}
		case <-w.exited:
			t.Fatalf("python worker exited before starting (%v):\n%s", w.err, w.output())
		case <-deadline:
			t.Fatalf("python worker did not start:\n%s", w.output())
		}
	}
}

func (w *worker) output() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.String()
}

// stop sends sig and returns how long the process took to exit.
func (w *worker) stop(sig syscall.Signal, within time.Duration) time.Duration {
	w.t.Helper()
	start := time.Now()
	require.NoError(w.t, w.cmd.Process.Signal(sig))
	select {
	case <-w.exited:
		return time.Since(start)
	case <-time.After(within):
		w.t.Fatalf("python worker still running %s after %s", within, sig)
		return 0
	}
}

// cpuSeconds reads the CPU time (user + system) the worker has used.
func (w *worker) cpuSeconds() float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", w.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name; utime and stime are the
	// 14th and 15th fields of the line, in clock ticks (100 per second).
	rest := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	if len(rest) < 13 {
		return 0
	}
	user, _ := strconv.ParseFloat(rest[11], 64)
	sys, _ := strconv.ParseFloat(rest[12], 64)
	return (user + sys) / 100
}

// rssKB reads the worker's resident set size.
func (w *worker) rssKB() int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", w.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			n, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return n
		}
	}
	return 0
}
