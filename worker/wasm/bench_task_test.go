package wasm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/internal/systest"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/worker/wasm"
)

// BenchmarkLinearTask runs four-step linear tasks one after the other
// through a whole system (orchestration, REST API, one worker serving the
// native Go handlers and the WASM modules) and reports the client-observed
// latency from creation to completion: the native Go handlers beside the
// same workflow on the Go and the C guest.
//
//	go test -run '^$' -bench BenchmarkLinearTask -benchtime 100x ./worker/wasm/
func BenchmarkLinearTask(b *testing.B) {
	for _, uninterruptible := range []bool{false, true} {
		b.Run(fmt.Sprintf("uninterruptible=%v", uninterruptible), func(b *testing.B) {
			benchLinearTasks(b, uninterruptible)
		})
	}
}

func benchLinearTasks(b *testing.B, uninterruptible bool) {
	modules := []string{"arith"}
	if haveC(b) {
		modules = append(modules, "arith-c")
	}
	dir := b.TempDir()
	var tpls []*template.Template
	for _, m := range modules {
		linkModuleB(b, guestModule(b, m), filepath.Join(dir, m+".wasm"))
		tpls = append(tpls, wasmTemplates(b, m)...)
	}
	x, err := wasm.New(context.Background(), wasm.Config{ModulePaths: []string{dir}, CompilationCacheDir: cacheDir(),
		UninterruptibleLoops: uninterruptible}, nil)
	require.NoError(b, err)
	defer func() { _ = x.Close(context.Background()) }()
	sys := systest.Start(b, systest.Options{Templates: tpls, Fallback: x})
	c, err := client.New(sys.URL)
	require.NoError(b, err)

	cases := []struct{ name, ns, task string }{{"native", "examples_linear", "square_chain"}}
	for _, m := range modules {
		cases = append(cases, struct{ name, ns, task string }{"wasm-" + m, "wasm_" + map[string]string{"arith": "arith", "arith-c": "arith_c"}[m], "linear"})
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			one := func() time.Duration {
				start := time.Now()
				task, err := c.CreateTask(sys.Ctx, client.TaskRequest{Namespace: tc.ns, Name: tc.task, Version: "1.0.0",
					Context: json.RawMessage(`{"even_number": 6}`)})
				require.NoError(b, err)
				final, err := c.Wait(sys.Ctx, task.TaskUUID, nil)
				require.NoError(b, err)
				require.Equal(b, "complete", final.Status)
				return time.Since(start)
			}
			for range 5 {
				one() // warm-up: instances, caches, connections
			}
			var took []time.Duration
			for b.Loop() {
				took = append(took, one())
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(took[len(took)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
}
