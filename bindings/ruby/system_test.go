package ruby_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/internal/systest"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/shared/testdb"
)

// rubySystem is orchestration (in-process, REST API included) on a fresh
// schema, with the templates Ruby workers serve.
type rubySystem struct {
	sys       *systest.System
	client    *client.Client
	lib       string
	ruby      string
	templates string   // directory of the templates the workers serve
	handlers  []string // --handlers directories
	byFile    map[string]*template.Template
}

var startedLine = regexp.MustCompile(`tasker-worker-ruby started worker_id=(\S+)`)

// referenceHandlers returns a directory of links to tasker-core's own Ruby
// handler files (kept outside the repository, in ../shared), skipping when
// they are absent.
func referenceHandlers(t *testing.T) string {
	t.Helper()
	src := filepath.Join(testdb.FixturesDir(t), "..", "..", "reference", "tasker-core-bindings", "ruby")
	files, err := filepath.Glob(filepath.Join(src, "*.rb"))
	require.NoError(t, err)
	if len(files) == 0 {
		t.Skipf("tasker-core's Ruby handler files not found in %s (they live outside the repository)", src)
	}
	dir := t.TempDir()
	for _, f := range files {
		require.NoError(t, os.Symlink(f, filepath.Join(dir, filepath.Base(f))))
	}
	return dir
}

// startRubySystem registers the given template files (paths) and prepares
// a template directory of links to them for the workers.
func startRubySystem(t *testing.T, files []string, workerCfg ...func(*systest.Options)) *rubySystem {
	t.Helper()
	rs := &rubySystem{ruby: rubyPath(t), lib: library(t), templates: t.TempDir(), byFile: map[string]*template.Template{}}
	rs.handlers = []string{referenceHandlers(t), "examples", filepath.Join("test", "e2e", "handlers")}
	var tpls []*template.Template
	for _, f := range files {
		ts, err := template.ParseFile(f, template.ParseOptions{Environment: "test"})
		require.NoError(t, err, f)
		require.Len(t, ts, 1, f)
		tpls = append(tpls, ts...)
		rs.byFile[filepath.Base(f)] = ts[0]
		require.NoError(t, os.Symlink(f, filepath.Join(rs.templates, filepath.Base(f))))
	}
	opts := systest.Options{Workers: -1, Templates: tpls, PoolSize: 12}
	for _, fn := range workerCfg {
		fn(&opts)
	}
	rs.sys = systest.Start(t, opts)
	c, err := client.New(rs.sys.URL)
	require.NoError(t, err)
	rs.client = c
	return rs
}

// env is what a Ruby worker process needs to reach the test's schema.
func (rs *rubySystem) env(extra ...string) []string {
	return append([]string{"TASKER_WORKER_LIB=" + rs.lib, "DATABASE_URL=" + rs.sys.DB.URL,
		"TASKER__DATABASE__SCHEMA=" + rs.sys.DB.Schema, "TASKER_ENV=test", "TASKER_TEMPLATE_PATH=" + rs.templates,
		"TASKER__WORKER__WEB__ENABLED=false", "TASKER_LOG_LEVEL=warn"}, extra...)
}

// startWorker starts bin/tasker-worker-ruby and waits until it serves.
func (rs *rubySystem) startWorker(t *testing.T, id string, extraEnv []string, args ...string) *proc {
	t.Helper()
	argv := []string{filepath.Join("bin", "tasker-worker-ruby"), "--templates", rs.templates, "--worker-id", id}
	for _, h := range rs.handlers {
		argv = append(argv, "--handlers", h)
	}
	p := startProc(t, ".", rs.env(extraEnv...), rs.ruby, append(argv, args...)...)
	p.waitLine(t, startedLine)
	return p
}

// fixturePath is a Ruby fixture template of tasker-core.
func fixturePath(t *testing.T, name string) string {
	return testdb.Fixture(t, filepath.Join("task_templates", "ruby", name))
}

// pointer looks up a JSON pointer ("" is the whole document) in raw.
func pointer(raw json.RawMessage, ptr string) (json.RawMessage, error) {
	cur := raw
	for _, tok := range strings.Split(ptr, "/")[1:] {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(cur, &obj); err == nil {
			v, ok := obj[tok]
			if !ok {
				return nil, fmt.Errorf("%s: no key %q in %s", ptr, tok, cur)
			}
			cur = v
			continue
		}
		var arr []json.RawMessage
		if err := json.Unmarshal(cur, &arr); err != nil {
			return nil, fmt.Errorf("%s: %s is neither object nor array", ptr, cur)
		}
		var i int
		if _, err := fmt.Sscanf(tok, "%d", &i); err != nil || i < 0 || i >= len(arr) {
			return nil, fmt.Errorf("%s: bad index %q", ptr, tok)
		}
		cur = arr[i]
	}
	return cur, nil
}

// requireJSONEqual compares two JSON documents: integers exactly (however
// large), other numbers to 1e-9 relative, everything else as decoded.
func requireJSONEqual(t *testing.T, want string, got json.RawMessage, msg string) {
	t.Helper()
	w, g := decodeNumbers(t, []byte(want)), decodeNumbers(t, got)
	require.True(t, sameJSON(w, g), "%s: want %s, got %s", msg, want, got)
}

func decodeNumbers(t *testing.T, raw []byte) any {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	require.NoError(t, d.Decode(&v), "%s", raw)
	return v
}

func sameJSON(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		xi, okx := new(big.Int).SetString(x.String(), 10)
		yi, oky := new(big.Int).SetString(y.String(), 10)
		if okx && oky {
			return xi.Cmp(yi) == 0
		}
		xf, err1 := x.Float64()
		yf, err2 := y.Float64()
		return err1 == nil && err2 == nil && math.Abs(xf-yf) <= 1e-9*math.Max(1, math.Abs(xf))
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if !sameJSON(v, y[k]) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameJSON(x[i], y[i]) {
				return false
			}
		}
		return true
	default:
		return a == b
	}
}
