// Package examples_test keeps the README's five-minute tour true: the
// module examples/tour holds its files, identical to the README's blocks,
// and the tour is built, tested and run against a real system to the
// result the README shows.
package examples_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/internal/systest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fileBlock is a README code block introduced by a line "`path`:".
var fileBlock = regexp.MustCompile("(?m)^`([^`\\s]+)`:\\n\\n```[a-z]*\\n((?s:.*?))```\\n")

// readmeFiles returns the README tour's files by path.
func readmeFiles(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	files := map[string]string{}
	for _, m := range fileBlock.FindAllStringSubmatch(string(b), -1) {
		_, dup := files[m[1]]
		require.False(t, dup, "README.md shows %s twice", m[1])
		files[m[1]] = m[2]
	}
	return files
}

// tourFiles returns the files of examples/tour the README shows (the
// module's go.mod and go.sum are the README's shell commands' doing).
func tourFiles(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir("tour", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel("tour", path)
		if err != nil {
			return err
		}
		if rel == "go.mod" || rel == "go.sum" {
			return nil
		}
		b, err := os.ReadFile(path)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	require.NoError(t, err)
	return files
}

// TestReadmeTourIsTheExample: every file of the tour is printed in the
// README exactly as examples/tour holds it, and the README shows no file
// the module lacks.
func TestReadmeTourIsTheExample(t *testing.T) {
	readme, tour := readmeFiles(t), tourFiles(t)
	require.NotEmpty(t, tour)
	for path, text := range tour {
		shown, ok := readme[path]
		require.True(t, ok, "README.md does not show examples/tour/%s (a block introduced by the line `%s`:)", path, path)
		require.Equal(t, text, shown, "README.md's block for %s differs from examples/tour/%s", path, path)
	}
	for path := range readme {
		_, ok := tour[path]
		require.True(t, ok, "README.md shows %s, which examples/tour does not have", path)
	}
}

// TestReadmeTourRuns builds the tour, runs its tests, and runs its worker
// against orchestration and the REST API on a fresh schema: the task the
// README creates completes with the README's result, and the context the
// README shows rejected is rejected.
func TestReadmeTourRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the tour module and runs its worker")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	dir := copyTour(t)
	goCmd := func(args ...string) string {
		cmd := exec.Command(gobin, args...)
		cmd.Dir = dir
		// The copy's go.mod may lag behind this module's requirements:
		// let the go command complete it from the module cache, as the
		// README's go mod tidy does.
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOSUMDB=off", "GOWORK=off")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "go %s in the tour module:\n%s", strings.Join(args, " "), out)
		return string(out)
	}
	out := goCmd("test", "-count=1", "./...")
	require.Contains(t, out, "ok  \texample.com/tour/greet")
	bin := filepath.Join(t.TempDir(), "greet-worker")
	goCmd("build", "-o", bin, "./cmd/greet-worker")

	sys := systest.Start(t, systest.Options{Workers: -1})
	var stderr bytes.Buffer
	w := exec.Command(bin)
	w.Env = append(os.Environ(), "DATABASE_URL="+sys.DB.URL, "TASKER__DATABASE__SCHEMA="+sys.DB.Schema,
		"TASKER_ENV=test", "TASKER_TEMPLATE_PATH="+filepath.Join(dir, "templates"), "TASKER__WORKER__WEB__ENABLED=false")
	w.Stdout, w.Stderr = &stderr, &stderr
	require.NoError(t, w.Start())
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = w.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = w.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("greet-worker output:\n%s", stderr.String())
		}
	})

	c, err := client.New(sys.URL)
	require.NoError(t, err)
	create := func(ctx string) (*client.Task, error) {
		return c.CreateTask(sys.Ctx, client.TaskRequest{Namespace: "tour", Name: "greet_customer",
			Context: json.RawMessage(ctx), Initiator: "readme-test"})
	}
	// The worker registers the template when it starts.
	var task *client.Task
	deadline := time.Now().Add(60 * time.Second)
	for {
		task, err = create(`{"name": "Ada"}`)
		var apiErr *client.Error
		if err == nil || !errors.As(err, &apiErr) || apiErr.Status != 404 || time.Now().After(deadline) {
			break
		}
		select {
		case <-exited:
			t.Fatalf("greet-worker exited (%v):\n%s", waitErr, stderr.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	require.NoError(t, err, "creating the README's task")
	ctx, cancel := context.WithTimeout(sys.Ctx, 60*time.Second)
	defer cancel()
	final, err := c.Wait(ctx, task.TaskUUID, nil)
	require.NoError(t, err)
	require.Equal(t, "complete", final.Status)
	var shout json.RawMessage
	for _, s := range final.Steps {
		if s.Name == "shout" {
			shout = s.Result()
		}
	}
	require.JSONEq(t, `{"shouted":"HELLO, ADA!"}`, string(shout), "the README's result")

	_, err = create(`{"name": ""}`)
	var apiErr *client.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 400, apiErr.Status)
	require.Contains(t, err.Error(), "/context/name: must be at least 1 characters long")

	// SIGTERM: the worker stops gracefully and exits.
	require.NoError(t, w.Process.Signal(syscall.SIGTERM))
	select {
	case <-exited:
		require.NoError(t, waitErr, "greet-worker's exit after SIGTERM")
	case <-time.After(15 * time.Second):
		t.Fatal("greet-worker still running 15 s after SIGTERM")
	}
}

// copyTour copies examples/tour to a temporary directory, its replace
// directive pointing at this checkout.
func copyTour(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	dir := t.TempDir()
	err = filepath.WalkDir("tour", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel("tour", path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if rel == "go.mod" {
			b = []byte(strings.Replace(string(b), "=> ../..", "=> "+root, 1))
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	require.NoError(t, err)
	return dir
}
