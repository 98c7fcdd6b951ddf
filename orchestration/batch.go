package orchestration

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/tasker-go/tasker/shared/batch"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
)

// Batch processing. A batchable step's successful result carries a
// batch_processing_outcome. For create_batches the orchestrator adds, in
// the transaction that processes the result, one step per cursor config
// named {worker_template}_{batch_id} (the batch_worker template step's
// handler, retry policy and timeout; its inputs the template's
// handler.initialization plus the cursor, batch_metadata and is_no_op),
// an edge from the batchable step to each, and every deferred_convergence
// step that depends on the worker template, with an edge from every
// worker. For no_batches it adds one placeholder worker {template}_000
// (cursor 0..0, is_no_op true) and the convergence step, so the graph has
// the same shape either way. The store enqueues at most the batch's
// parallelism of workers at once. The steps are created by name, so a
// result processed twice creates nothing new.

// batchDecision turns the completion of a batchable step into the graph
// extension its outcome calls for. A result with no outcome, or with one
// that cannot be carried out (unknown worker template, bad cursor
// configs), fails the step permanently with the reason.
func batchDecision(st store.Step, rt store.ReportedTask, r stepresult.Result) store.Decision {
	ext, err := batchExtension(st, rt, r.Result)
	if err != nil {
		return store.Decision{To: state.StepError, Reason: "batch processing outcome refused: " + err.Error()}
	}
	return store.Decision{To: state.StepComplete, Extend: ext}
}

var errNoOutcome = errors.New("the batchable step's result has no batch_processing_outcome")

// batchExtension builds the steps and edges of a batchable step's outcome.
func batchExtension(st store.Step, rt store.ReportedTask, result json.RawMessage) (*store.GraphExtension, error) {
	if len(rt.Template) == 0 {
		return nil, errors.New("the task's template is not available")
	}
	var tpl template.Template
	if err := json.Unmarshal(rt.Template, &tpl); err != nil {
		return nil, fmt.Errorf("reading the task's template: %w", err)
	}
	o, found, err := batch.FromResult(result)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errNoOutcome
	}
	tplStep := st.TemplateStepName
	if tplStep == "" {
		tplStep = st.Name
	}
	def, ok := tpl.Step(tplStep)
	if !ok {
		return nil, fmt.Errorf("step %q is not in the task's template", tplStep)
	}
	cursors, noOp, workerTpl := o.CursorConfigs, false, o.WorkerTemplateName
	if o.Type == batch.TypeNoBatches {
		workerTpl, noOp, cursors = workerTemplateFor(&tpl, def), true, []batch.CursorConfig{batch.NoOpCursor()}
		if workerTpl == "" {
			return nil, fmt.Errorf("no_batches: step %q names no worker template (handler.initialization.worker_template_name or batch_config.worker_template)", def.Name)
		}
	}
	wdef, ok := tpl.Step(workerTpl)
	if !ok {
		return nil, fmt.Errorf("worker template %q is not a step of the template", workerTpl)
	}
	if wdef.Type != template.StepBatchWorker {
		return nil, fmt.Errorf("worker template %q is a %s step, not a batch_worker", workerTpl, wdef.Type)
	}
	ext := &store.GraphExtension{CreatedBy: st.Name, Steps: make([]store.NewStep, 0, len(cursors)+1),
		Edges: make([]store.NamedEdge, 0, 2*len(cursors))}
	workers := make([]string, 0, len(cursors))
	for _, c := range cursors {
		inputs, err := batch.BuildWorkerInputs(wdef, c, noOp)
		if err != nil {
			return nil, err
		}
		name := batch.WorkerName(wdef.Name, c.BatchID)
		ext.Steps = append(ext.Steps, stepFrom(wdef, name, inputs))
		ext.Edges = append(ext.Edges, store.NamedEdge{From: st.Name, To: name})
		workers = append(workers, name)
	}
	for i := range tpl.Steps {
		cs := &tpl.Steps[i]
		if cs.Type != template.StepDeferredConvergence || !slices.Contains(cs.Dependencies, wdef.Name) {
			continue
		}
		inputs, err := json.Marshal(cs.Handler.Initialization)
		if err != nil {
			return nil, fmt.Errorf("encoding the inputs of %s: %w", cs.Name, err)
		}
		ext.Steps = append(ext.Steps, stepFrom(cs, cs.Name, inputs))
		for _, d := range cs.Dependencies {
			if d != wdef.Name {
				// Another declared parent: an edge when the task has it.
				ext.Edges = append(ext.Edges, store.NamedEdge{From: d, To: cs.Name})
				continue
			}
			for _, w := range workers {
				ext.Edges = append(ext.Edges, store.NamedEdge{From: w, To: cs.Name})
			}
		}
	}
	return ext, nil
}

// workerTemplateFor is the worker template of a batchable step that
// returned no_batches: its handler.initialization.worker_template_name,
// else its batch_config.worker_template, else the one batch_worker step
// that depends on it.
func workerTemplateFor(tpl *template.Template, def *template.Step) string {
	if s, ok := def.Handler.Initialization["worker_template_name"].(string); ok && s != "" {
		return s
	}
	if def.BatchConfig != nil && def.BatchConfig.WorkerTemplate != "" {
		return def.BatchConfig.WorkerTemplate
	}
	found := ""
	for i := range tpl.Steps {
		s := &tpl.Steps[i]
		if s.Type == template.StepBatchWorker && slices.Contains(s.Dependencies, def.Name) {
			if found != "" {
				return ""
			}
			found = s.Name
		}
	}
	return found
}

// stepFrom is a step to create from template step def under name.
func stepFrom(def *template.Step, name string, inputs json.RawMessage) store.NewStep {
	return store.NewStep{
		Name: name, TemplateStepName: def.Name, StepType: string(template.StepStandard),
		HandlerCallable: def.Handler.Callable, HandlerMethod: def.Handler.Method,
		Retryable: def.Retry.Retryable, MaxAttempts: def.Retry.MaxAttempts, Backoff: string(def.Retry.Backoff),
		BackoffBaseMs: def.Retry.BackoffBaseMs, MaxBackoffMs: def.Retry.MaxBackoffMs, BackoffJitter: def.Retry.Jitter,
		TimeoutSeconds: def.TimeoutSeconds, Inputs: inputs,
	}
}

// batchWorkerFailure applies a failed batch worker's failure_strategy to a
// decision that ends it in error: continue_on_failure completes it instead
// (its result, kept as the handler reported it, says it failed), so the
// batch converges and the convergence step sees the failure among its
// dependency results. fail_fast and isolate keep the error: the task is
// blocked until an operator resolves the worker (under isolate the store
// still starts the batch's other workers meanwhile).
func batchWorkerFailure(st store.Step, d store.Decision) store.Decision {
	if d.To != state.StepError {
		return d
	}
	w, ok, err := batch.ParseWorkerInputs(st.Inputs)
	if err != nil || !ok || w.BatchMetadata.FailureStrategy != template.FailureContinueOnFailure {
		return d
	}
	return store.Decision{To: state.StepComplete,
		Reason: "batch worker failed (" + d.Reason + "); failure_strategy continue_on_failure completes it"}
}
