package e2e

import (
	"context"
	"encoding/json"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/client"
	"github.com/tasker-go/tasker/internal/systest"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/shared/testdb"
)

// fixtureCase is one tasker-core fixture run with its input and what must
// come out.
type fixtureCase struct {
	file     string
	ctx      string
	status   string
	steps    int
	step     string         // step whose result is checked
	want     map[string]any // fields of that step's result
	attempts map[string]int // exact attempts per step
	errored  []string       // steps that must end in error
}

var orderContext = `{"customer":{"id":42,"name":"Grace Hopper","email":"grace@example.com"},
	"items":[{"sku":"WIDGET-001","quantity":2,"price":29.99},{"sku":"GADGET-002","quantity":1,"price":149.99}],
	"payment":{"method":"credit_card","token":"tok_test"},
	"shipping":{"method":"overnight","address":{"street":"1 Navy Way","city":"Arlington"}}}`

func pow(base int64, exp int64) string {
	return new(big.Int).Exp(big.NewInt(base), big.NewInt(exp), nil).String()
}

var fixtureCases = []fixtureCase{
	{file: "rust/mathematical_sequence.yaml", ctx: `{"even_number":6}`, status: "complete", steps: 4,
		step: "linear_step_4", want: map[string]any{"result": "2821109907456"}},
	{file: "rust/mathematical_sequence.yaml", ctx: `{"even_number":8}`, status: "complete", steps: 4,
		step: "linear_step_4", want: map[string]any{"result": pow(8, 16)}},
	{file: "rust/diamond_pattern.yaml", ctx: `{"even_number":6}`, status: "complete", steps: 4,
		step: "diamond_end", want: map[string]any{"result": "2821109907456"}},
	{file: "rust/hierarchical_tree.yaml", ctx: `{"even_number":6}`, status: "complete", steps: 8,
		step: "tree_final_convergence", want: map[string]any{"result": pow(6, 64)}},
	{file: "rust/hierarchical_tree.yaml", ctx: `{"even_number":2}`, status: "complete", steps: 8,
		step: "tree_final_convergence", want: map[string]any{"result": pow(2, 64)}},
	{file: "rust/complex_dag.yaml", ctx: `{"even_number":2}`, status: "complete", steps: 7,
		step: "dag_finalize", want: map[string]any{"result": pow(2, 64)}},
	{file: "rust/business_workflow.yaml", ctx: orderContext, status: "complete", steps: 4,
		step: "ship_order", want: map[string]any{"carrier": "FedEx", "shipping_method": "overnight", "status": "shipped"}},
	{file: "rust/retry_mechanics_test.yaml", ctx: `{}`, status: "complete", steps: 1,
		step: "fail_twice_then_succeed", want: map[string]any{"attempts_before_success": "3"},
		attempts: map[string]int{"fail_twice_then_succeed": 3}},
	{file: "rust/retry_exhaustion_test.yaml", ctx: `{}`, status: "error", steps: 1,
		errored: []string{"always_fail"}, attempts: map[string]int{"always_fail": 3}},
	{file: "rust/boundary_max_attempts_zero.yaml", ctx: `{}`, status: "complete", steps: 1},
	{file: "rust/boundary_max_attempts_one.yaml", ctx: `{}`, status: "complete", steps: 1},
	{file: "rust/boundary_max_attempts_three.yaml", ctx: `{}`, status: "complete", steps: 1},
	{file: "rust/boundary_non_retryable_first.yaml", ctx: `{}`, status: "complete", steps: 1},
	{file: "rust/boundary_non_retryable_retries.yaml", ctx: `{}`, status: "complete", steps: 1},
	// A decision point: only the chosen approvals exist, and the convergence
	// step waits for exactly those.
	{file: "rust/conditional_approval_rust.yaml", ctx: `{"amount":500,"requester":"ann","purpose":"laptop"}`,
		status: "complete", steps: 4, step: "finalize_approval", want: map[string]any{"approval_path": "auto"}},
	{file: "rust/conditional_approval_rust.yaml", ctx: `{"amount":3000,"requester":"ann","purpose":"laptop"}`,
		status: "complete", steps: 4, step: "finalize_approval", want: map[string]any{"approval_path": "manager_only"}},
	{file: "rust/conditional_approval_rust.yaml", ctx: `{"amount":10000,"requester":"ann","purpose":"laptop"}`,
		status: "complete", steps: 5, step: "finalize_approval", want: map[string]any{"approval_path": "dual_approval"}},
	{file: "rust/conditional_approval_rust.yaml", ctx: `{"amount":1500,"requester":"ann","purpose":"laptop"}`,
		status: "complete", steps: 4, step: "finalize_approval", want: map[string]any{"approval_path": "manager_only"}},
	{file: "ruby/success_only.yaml", ctx: `{}`, status: "complete", steps: 1},
	{file: "ruby/permanent_error_only.yaml", ctx: `{}`, status: "error", steps: 1,
		errored: []string{"permanent_error_step"}, attempts: map[string]int{"permanent_error_step": 1}},
	{file: "ruby/retryable_error_only.yaml", ctx: `{}`, status: "error", steps: 1,
		errored: []string{"retryable_error_step"}, attempts: map[string]int{"retryable_error_step": 2}},
	{file: "ruby/error_testing_handler.yaml", ctx: `{}`, status: "error", steps: 3,
		errored: []string{"permanent_error_step"}},
	// Diamond, decision and batch: each input takes its documented path
	// with three workers.
	{file: "rust/diamond_decision_batch.yaml", ctx: `{"numbers":[2,4,6,8,10,12]}`, status: "complete", steps: 9,
		step: "aggregate_even_results", want: map[string]any{"total_processed": "6", "total_sum": "42", "batch_count": "3"}},
	{file: "rust/diamond_decision_batch.yaml", ctx: `{"numbers":[1,3,5,7,9,11,2,4]}`, status: "complete", steps: 9,
		step: "aggregate_odd_results", want: map[string]any{"total_processed": "6", "total_sum": "36", "batch_count": "3"}},
	{file: "rust/diamond_decision_batch.yaml", ctx: `{"numbers":[1,2,3,4,5,6,7,8,9,10]}`, status: "complete", steps: 9,
		step: "aggregate_even_results", want: map[string]any{"total_processed": "5", "total_sum": "30", "batch_count": "3"}},
	// Batch processing: $FIXTURES is the fixtures directory.
	{file: "rust/batch_processing_products_csv.yaml", ctx: `{"csv_file_path":"$FIXTURES/products.csv"}`, status: "complete",
		steps: 7, step: "aggregate_csv_results", want: map[string]any{"total_processed": "1000", "worker_count": "5",
			"max_price_product": "Rolex Submariner Watch"}},
	{file: "rust/batch_processing_products_csv.yaml", ctx: `{"csv_file_path":"$FIXTURES/products_empty.csv"}`, status: "complete",
		steps: 3, step: "aggregate_csv_results", want: map[string]any{"total_processed": "0", "worker_count": "0"}},
	{file: "rust/batch_processing_example.yaml", ctx: `{"dataset_size":5000}`, status: "complete", steps: 7,
		step: "aggregate_results", want: map[string]any{"total_processed": "5000", "worker_count": "5", "validation_passed": "true"}},
	{file: "rust/batch_processing_example.yaml", ctx: `{"dataset_size":1500}`, status: "complete", steps: 4,
		step: "aggregate_results", want: map[string]any{"total_processed": "1500", "worker_count": "2"}},
	{file: "rust/batch_processing_example.yaml", ctx: `{"dataset_size":50}`, status: "complete", steps: 3,
		step: "aggregate_results", want: map[string]any{"total_processed": "50", "worker_count": "0"}},
	{file: "rust/batch_resumption_test.yaml", ctx: `{"dataset_size":100}`, status: "complete", steps: 2,
		step: "checkpoint_fail_batch_001", want: map[string]any{"resumed_from": "50", "total_processed": "100",
			"items_this_attempt": "50", "attempts": "2"},
		attempts: map[string]int{"checkpoint_fail_batch_001": 2}},
	{file: "ruby/checkpoint_yield_test.yaml", ctx: `{"total_items":100}`, status: "complete", steps: 3,
		step: "aggregate_results", want: map[string]any{"total_processed": "100", "running_total": "5050", "item_count": "100",
			"checkpoints_used": "4", "worker_count": "1"},
		attempts: map[string]int{"checkpoint_yield_batch_001": 1}},
	{file: "ruby/checkpoint_yield_test.yaml", ctx: `{"total_items":100,"fail_after_items":60}`, status: "complete", steps: 3,
		step: "aggregate_results", want: map[string]any{"total_processed": "100", "running_total": "5050", "item_count": "100"},
		attempts: map[string]int{"checkpoint_yield_batch_001": 2}},
	{file: "ruby/checkpoint_yield_test.yaml", ctx: `{"total_items":100,"fail_after_items":60,"permanent_failure":true}`,
		status: "error", steps: 3, errored: []string{"checkpoint_yield_batch_001"},
		attempts: map[string]int{"checkpoint_yield_batch_001": 1}},
	{file: "ruby/checkpoint_yield_test.yaml", ctx: `{"total_items":0}`, status: "complete", steps: 3,
		step: "aggregate_results", want: map[string]any{"scenario": "no_batches"}},
}

// TestFixtureWorkflows runs tasker-core's own fixture templates, unchanged
// (with their "test" environment overrides), through the whole system on
// each queue backend and checks results, step counts, attempts and final
// states.
func TestFixtureWorkflows(t *testing.T) {
	onBackends(t, runFixtureWorkflows)
}

func runFixtureWorkflows(t *testing.T, b queueBackend) {
	dir := filepath.Join(testdb.FixturesDir(t), "task_templates")
	var tpls []*template.Template
	seen := map[string]bool{}
	for _, c := range fixtureCases {
		if seen[c.file] {
			continue
		}
		seen[c.file] = true
		ts, err := template.ParseFile(filepath.Join(dir, c.file), template.ParseOptions{Environment: "test"})
		require.NoError(t, err, c.file)
		tpls = append(tpls, ts...)
	}
	// Every fixture has its own deadline below; the system outlives them all
	// (the broker variant takes a few minutes on a loaded machine).
	sys := systest.Start(t, b.options(systest.Options{Templates: tpls, PoolSize: 12, Timeout: 10 * time.Minute}))
	c, err := client.New(sys.URL)
	require.NoError(t, err)
	byFile := map[string]*template.Template{}
	for i, f := range uniqueFiles() {
		byFile[f] = tpls[i]
	}
	for _, fc := range fixtureCases {
		t.Run(fc.file, func(t *testing.T) {
			tpl := byFile[fc.file]
			ctx := strings.ReplaceAll(fc.ctx, "$FIXTURES", testdb.FixturesDir(t))
			task, err := c.CreateTask(sys.Ctx, client.TaskRequest{Namespace: tpl.NamespaceName, Name: tpl.Name,
				Version: tpl.Version, Context: json.RawMessage(ctx), IdempotencyKey: t.Name()})
			require.NoError(t, err)
			waitCtx, cancel := context.WithTimeout(sys.Ctx, 60*time.Second)
			defer cancel()
			final, err := c.Wait(waitCtx, task.TaskUUID, nil)
			if err != nil {
				dumpTask(t, sys, task.TaskUUID)
			}
			require.NoError(t, err)
			if fc.status != final.Status {
				dumpTask(t, sys, task.TaskUUID)
			}
			require.Equal(t, fc.status, final.Status)
			require.Len(t, final.Steps, fc.steps)
			steps := map[string]client.Step{}
			for _, s := range final.Steps {
				steps[s.Name] = s
			}
			for name, n := range fc.attempts {
				require.Equal(t, n, steps[name].Attempts, "attempts of %s", name)
			}
			for _, name := range fc.errored {
				require.Equal(t, "error", steps[name].CurrentState, name)
			}
			if fc.status == "complete" {
				for name, s := range steps {
					require.Equal(t, "complete", s.CurrentState, name)
				}
			}
			if fc.step != "" {
				var res map[string]json.RawMessage
				st := steps[fc.step]
				require.NoError(t, json.Unmarshal(st.Result(), &res))
				for k, v := range fc.want {
					require.Contains(t, res, k)
					require.Equal(t, v, unquote(res[k]), "%s.%s", fc.step, k)
				}
			}
		})
	}
}

func uniqueFiles() []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range fixtureCases {
		if !seen[c.file] {
			seen[c.file] = true
			out = append(out, c.file)
		}
	}
	return out
}

// unquote renders a JSON scalar as text (a number or a decimal string
// compare equal).
func unquote(raw json.RawMessage) any {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// dumpTask logs a task's step history and the queues, to explain a task
// that did not finish.
func dumpTask(t *testing.T, sys *systest.System, id uuid.UUID) {
	trans, _ := sys.Store.StepTransitions(sys.Ctx, id, uuid.Nil)
	for _, tr := range trans {
		from := ""
		if tr.FromState != nil {
			from = *tr.FromState
		}
		t.Logf("%s step %-24s %-36s -> %-36s %s %s", tr.CreatedAt.Format("15:04:05.000"), tr.StepName, from, tr.ToState, tr.Event, string(tr.Metadata))
	}
	hist, _ := sys.Store.TaskTransitions(sys.Ctx, id)
	for _, h := range hist {
		t.Logf("%s task %s (%s)", h.CreatedAt.Format("15:04:05.000"), h.ToState, h.Event)
	}
	rows, err := sys.Store.Pool().Query(sys.Ctx, `SELECT relname, n_live_tup FROM pg_stat_user_tables WHERE relname LIKE 'mq\_%' AND schemaname = current_schema()`)
	if err == nil {
		for rows.Next() {
			var n string
			var c int64
			_ = rows.Scan(&n, &c)
			t.Logf("queue table %s ~%d rows", n, c)
		}
		rows.Close()
	}
}
