package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/internal/systest"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/template"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// parallelTasks is how many one-step tasks the C program's four threads
// serve at once.
const parallelTasks = 24

// buildLibrary builds libtasker_worker.so the way scripts/build-capi.sh
// does and compiles testdata/abi_test.c against the documented header.
func buildLibrary(t *testing.T) (program string) {
	t.Helper()
	cc, err := exec.LookPath("gcc")
	if err != nil {
		if cc, err = exec.LookPath("cc"); err != nil {
			t.Skip("no C compiler (gcc or cc) on PATH: the C ABI test needs one")
		}
	}
	dir := t.TempDir()
	lib := filepath.Join(dir, "libtasker_worker.so")
	run(t, ".", "go", "build", "-buildmode=c-shared", "-o", lib, ".")
	program = filepath.Join(dir, "abi_test")
	run(t, ".", cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-pthread", "-Iinclude",
		"-o", program, "testdata/abi_test.c", "-L"+dir, "-ltasker_worker", "-Wl,-rpath,"+dir)
	return program
}

func run(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
}

// TestCABI drives testdata/abi_test.c: a C host that bootstraps a worker
// through the shared library, serves every step of the tasks created here
// (orchestration runs in this test) from four threads, and misuses every
// function. Then the database must hold what the host reported.
func TestCABI(t *testing.T) {
	program := buildLibrary(t)
	tplDir, err := filepath.Abs("testdata/templates")
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(tplDir, "*.yaml"))
	require.NoError(t, err)
	var tpls []*template.Template
	for _, f := range files {
		ts, err := template.ParseFile(f, template.ParseOptions{})
		require.NoError(t, err)
		tpls = append(tpls, ts...)
	}
	sys := systest.Start(t, systest.Options{Workers: -1, Templates: tpls})
	c, err := client.New(sys.URL)
	require.NoError(t, err)
	create := func(name, ctx string) uuid.UUID {
		task, err := c.CreateTask(sys.Ctx, client.TaskRequest{Namespace: "abi_ns", Name: name, Version: "1.0.0",
			Context: json.RawMessage(ctx), IdempotencyKey: uuid.NewString()})
		require.NoError(t, err)
		return task.TaskUUID
	}
	linear := create("abi_linear", `{"n": 6}`)
	fail := create("abi_fail", `{}`)
	flaky := create("abi_flaky", `{}`)
	batch := create("abi_batch", `{}`)
	bad := create("abi_bad", `{}`)
	hold := create("abi_hold", `{}`)
	parallel := make([]uuid.UUID, parallelTasks)
	for i := range parallel {
		parallel[i] = create("abi_parallel", `{"i": `+strconv.Itoa(i)+`}`)
	}
	// Events: 2 linear, 1 fail, 2 flaky (a retry), 3 batch (two yields),
	// 2 bad, 1 held, and the parallel ones.
	events := 11 + parallelTasks

	ctx, cancel := context.WithTimeout(sys.Ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, program, tplDir, strconv.Itoa(events))
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"DATABASE_URL=" + sys.DB.URL,
		"TASKER__DATABASE__SCHEMA=" + sys.DB.Schema,
		"TASKER_ENV=test",
		"TASKER__WORKER__CLAIMS__POLL_INTERVAL=100ms",
		"TASKER_LOG_LEVEL=debug",
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	out := stdout.String()
	if err != nil || !strings.Contains(out, "ABI TEST PASSED") {
		t.Logf("stderr (the library's log):\n%s", stderr.String())
	}
	require.NoError(t, err, "abi_test output:\n%s", out)
	require.Contains(t, out, "ABI TEST PASSED")
	require.NotContains(t, out, "FAIL ")
	if m := regexp.MustCompile(`STOP_MS (\d+)`).FindStringSubmatch(out); m != nil {
		t.Logf("tasker_stop with one held event took %s ms", m[1])
	}
	log := stderr.String()
	require.Contains(t, log, `msg="served every step" worker_id=c-worker-`)
	require.Contains(t, log, `source=c events=1`)
	require.Contains(t, log, `msg="abi test starting" source=host program=abi_test`)

	final := func(id uuid.UUID) *client.Task {
		wctx, cancel := context.WithTimeout(sys.Ctx, 30*time.Second)
		defer cancel()
		_, err := c.Wait(wctx, id, nil)
		require.NoError(t, err)
		task, err := c.GetTask(wctx, id)
		require.NoError(t, err)
		return task
	}
	stepOf := func(task *client.Task, name string) *client.Step {
		for i := range task.Steps {
			if task.Steps[i].Name == name {
				return &task.Steps[i]
			}
		}
		t.Fatalf("no step %s", name)
		return nil
	}

	task := final(linear)
	require.Equal(t, "complete", task.Status)
	require.JSONEq(t, `{"value": 21}`, string(stepOf(task, "first").Result()))
	require.Equal(t, map[string]any{"by": "c"}, stepresult.Parse(stepOf(task, "first").Results).Metadata.Custom)
	require.JSONEq(t, `{"doubled": 42}`, string(stepOf(task, "second").Result()))

	task = final(fail)
	require.Equal(t, "error", task.Status)
	res := stepresult.Parse(stepOf(task, "fail").Results)
	require.Equal(t, "card declined", res.Error.Message)
	require.Equal(t, "PermanentError", res.Error.ErrorType)
	require.Equal(t, "DECLINED", res.Metadata.ErrorCode)
	require.Equal(t, []string{"abi_test.c:1"}, res.Error.Backtrace)
	require.False(t, res.Retryable())

	task = final(flaky)
	require.Equal(t, "complete", task.Status)
	require.Equal(t, 2, stepOf(task, "flaky").Attempts)
	require.JSONEq(t, `{"attempt": 2}`, string(stepOf(task, "flaky").Result()))

	task = final(batch)
	require.Equal(t, "complete", task.Status)
	require.Equal(t, 1, stepOf(task, "crunch").Attempts, "checkpoint yields do not count attempts")
	require.JSONEq(t, `{"total": 20}`, string(stepOf(task, "crunch").Result()))
	st, err := sys.Store.GetStep(sys.Ctx, batch, stepOf(task, "crunch").StepUUID)
	require.NoError(t, err)
	var rec struct {
		Cursor         int   `json:"cursor"`
		ItemsProcessed int   `json:"items_processed"`
		History        []any `json:"history"`
	}
	require.NoError(t, json.Unmarshal(st.Checkpoint, &rec))
	require.Equal(t, 20, rec.Cursor)
	require.Equal(t, 20, rec.ItemsProcessed)
	require.Len(t, rec.History, 2)

	task = final(bad)
	require.Equal(t, "error", task.Status)
	for _, name := range []string{"bad_result", "bad_json"} {
		r := stepresult.Parse(stepOf(task, name).Results)
		require.Equal(t, stepresult.ErrorTypeInvalidResult, r.Metadata.ErrorType, name)
		require.False(t, r.Retryable(), name)
	}

	for _, id := range parallel {
		require.Equal(t, "complete", final(id).Status)
	}

	held, err := c.GetTask(sys.Ctx, hold)
	require.NoError(t, err)
	hs := stepOf(held, "held")
	require.Equal(t, "enqueued", hs.CurrentState, "the held step was released for another worker")
	require.Zero(t, hs.Attempts, "a released claim does not count as an attempt")
}
