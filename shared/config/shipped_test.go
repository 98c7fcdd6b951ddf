package config

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
	"github.com/stretchr/testify/require"

	shipped "github.com/tasker-go/tasker/config"
)

// repoConfig is the config tree of this checkout.
const repoConfig = "../../config"

func TestShippedFilesLoadForEveryContextAndEnv(t *testing.T) {
	for _, root := range []string{"", repoConfig} {
		for _, ctx := range Contexts {
			for _, env := range Environments {
				cfg, err := Load(LoadOptions{Root: root, Context: ctx, Env: env})
				require.NoError(t, err, "root %q context %s env %s", root, ctx, env)
				require.NoError(t, cfg.Validate())
				require.Equal(t, ctx, cfg.Context)
				require.Equal(t, env, cfg.Env)
			}
		}
	}
}

func TestEmbeddedTreeMatchesCheckout(t *testing.T) {
	err := fs.WalkDir(shipped.Files, ".", func(name string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		if d.IsDir() {
			return nil
		}
		embedded, err := fs.ReadFile(shipped.Files, name)
		require.NoError(t, err)
		onDisk, err := os.ReadFile(filepath.Join(repoConfig, filepath.FromSlash(name)))
		require.NoError(t, err)
		require.Equal(t, string(onDisk), string(embedded), name)
		return nil
	})
	require.NoError(t, err)
	for _, ctx := range Contexts {
		for _, env := range Environments {
			_, err := fs.Stat(shipped.Files, ctx+"/environments/"+env+".toml")
			require.NoError(t, err, "every context ships every environment file")
		}
	}
}

func TestDefaultEqualsEmbeddedFilesWithNoEnvironment(t *testing.T) {
	for _, ctx := range Contexts {
		loaded, err := Load(LoadOptions{Context: ctx})
		require.NoError(t, err)
		require.Equal(t, Default(ctx), loaded, ctx)
		require.NoError(t, Default(ctx).Validate())
	}
	require.Equal(t, "postgres://postgres@127.0.0.1:5432/tasker?sslmode=disable", Default(ContextShared).Database.URL)
	require.Equal(t, BackendPostgres, Default(ContextShared).Queues.Backend)
	require.Equal(t, "amqp://guest:guest@127.0.0.1:5672/", Default(ContextShared).Queues.RabbitMQ.URL)
	require.Panics(t, func() { Default("nope") })
}

func TestDefaultIgnoresTheProcessEnvironment(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://elsewhere/db")
	t.Setenv("TASKER__DATABASE__SCHEMA", "other")
	require.Equal(t, "postgres://postgres@127.0.0.1:5432/tasker?sslmode=disable", Default(ContextShared).Database.URL)
	require.Equal(t, "tasker", Default(ContextShared).Database.Schema)
}

// Each base.toml is the complete reference of its context's keys: it
// states every key, and only its own.
func TestBaseFilesStateEveryKey(t *testing.T) {
	stated := func(name string) map[string]bool {
		data, err := fs.ReadFile(shipped.Files, name)
		require.NoError(t, err)
		m := map[string]any{}
		require.NoError(t, toml.Unmarshal(data, &m))
		out := map[string]bool{}
		for k := range leaves(m, "") {
			out[k] = true
		}
		return out
	}
	shared := Keys(ContextShared)
	require.Equal(t, setOf(shared), stated("shared/base.toml"))
	for _, ctx := range []string{ContextOrchestration, ContextWorker} {
		var own []string
		for _, k := range Keys(ctx) {
			if strings.HasPrefix(k, ctx+".") {
				own = append(own, k)
			}
		}
		require.Equal(t, setOf(own), stated(ctx+"/base.toml"), ctx)
	}
}

func setOf(keys []string) map[string]bool {
	out := map[string]bool{}
	for _, k := range keys {
		out[k] = true
	}
	return out
}

func TestKeys(t *testing.T) {
	require.Contains(t, Keys(ContextShared), "database.pool.max_connections")
	require.NotContains(t, Keys(ContextShared), "worker.worker_id")
	require.Contains(t, Keys(ContextWorker), "worker.handlers.max_concurrent")
	require.NotContains(t, Keys(ContextWorker), "orchestration.web.bind_address")
	require.Contains(t, Keys(ContextOrchestration), "orchestration.web.backpressure.retry_after")
}

// The reference documentation names every key.
func TestDocsNameEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	require.NoError(t, err)
	all := append(Keys(ContextOrchestration), Keys(ContextWorker)...)
	for _, key := range all {
		require.Contains(t, string(doc), "`"+key+"`", "docs/configuration.md does not describe %s", key)
	}
}

// Every field of every config struct carries a doc comment: they are the
// reference documentation.
func TestEveryFieldIsDocumented(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok || !ts.Name.IsExported() {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return true
			}
			for _, fld := range st.Fields.List {
				for _, id := range fld.Names {
					if id.IsExported() {
						require.NotNil(t, fld.Doc, "%s: field %s.%s has no doc comment", name, ts.Name.Name, id.Name)
					}
				}
			}
			return true
		})
	}
}
