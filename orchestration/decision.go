package orchestration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
)

// decisionExtension turns a decision step's successful result into the
// steps and edges to add to its task: the steps the outcome names with
// everything they bring (template.DecisionSteps), each joined to its
// template dependencies. A dependency the task does not have is replaced
// by the decision step itself, except for deferred convergence steps,
// which depend only on the parents that exist. A no_branches outcome adds
// nothing (nil). An outcome that is malformed, names no step, or names a
// step the decision does not own is an error, which fails the step.
func (c *Core) decisionExtension(st store.Step, rt store.ReportedTask, value json.RawMessage) (*store.GraphExtension, error) {
	outcome, err := stepresult.DecisionOutcomeOf(value)
	if err != nil {
		return nil, err
	}
	if outcome.Type == stepresult.DecisionNoBranches {
		return nil, nil
	}
	tpl, err := c.parsed.get(rt.NamedTaskUUID, rt.Template)
	if err != nil {
		return nil, err
	}
	decision := st.TemplateStepName
	if decision == "" {
		decision = st.Name
	}
	steps, err := tpl.DecisionSteps(decision, outcome.StepNames)
	if err != nil {
		return nil, err
	}
	x := &store.GraphExtension{CreatedBy: st.Name, Steps: make([]store.NewStep, 0, len(steps))}
	for _, s := range steps {
		ns, err := newStepOf(s)
		if err != nil {
			return nil, err
		}
		x.Steps = append(x.Steps, ns)
		for _, d := range s.Dependencies {
			e := store.NamedEdge{From: d, To: s.Name}
			if s.Type != template.StepDeferredConvergence {
				e.Else = st.Name
			}
			x.Edges = append(x.Edges, e)
		}
	}
	return x, nil
}

// newStepOf is the row of a template step (its named step is found by
// name when NamedStepUUID is left nil).
func newStepOf(s *template.Step) (store.NewStep, error) {
	inputs, err := json.Marshal(s.Handler.Initialization)
	if err != nil {
		return store.NewStep{}, fmt.Errorf("step %s: encoding handler initialization: %w", s.Name, err)
	}
	return store.NewStep{
		Name: s.Name, TemplateStepName: s.Name,
		StepType: string(s.Type), HandlerCallable: s.Handler.Callable, HandlerMethod: s.Handler.Method,
		Retryable: s.Retry.Retryable, MaxAttempts: s.Retry.MaxAttempts, Backoff: string(s.Retry.Backoff),
		BackoffBaseMs: s.Retry.BackoffBaseMs, MaxBackoffMs: s.Retry.MaxBackoffMs, BackoffJitter: s.Retry.Jitter,
		TimeoutSeconds: s.TimeoutSeconds, Inputs: inputs,
	}, nil
}

// parsedTemplates keeps the template each named task was last seen with,
// parsed, so processing a decision does not parse the same JSON again. The
// JSON is the one read in the processing transaction; a re-registered
// template (different bytes) is parsed anew.
type parsedTemplates struct {
	mu      sync.Mutex
	entries map[uuid.UUID]parsedTemplate
}

type parsedTemplate struct {
	raw []byte
	tpl *template.Template
}

// maxParsedTemplates bounds the cache; past it, it starts over.
const maxParsedTemplates = 1024

func (p *parsedTemplates) get(named uuid.UUID, raw json.RawMessage) (*template.Template, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("the task's template (named task %s) was not found", named)
	}
	p.mu.Lock()
	e, ok := p.entries[named]
	p.mu.Unlock()
	if ok && bytes.Equal(e.raw, raw) {
		return e.tpl, nil
	}
	var tpl template.Template
	if err := json.Unmarshal(raw, &tpl); err != nil {
		return nil, fmt.Errorf("the task's template (named task %s) is stored in a form this version cannot read: %w", named, err)
	}
	p.mu.Lock()
	if p.entries == nil || len(p.entries) >= maxParsedTemplates {
		p.entries = map[uuid.UUID]parsedTemplate{}
	}
	p.entries[named] = parsedTemplate{raw: bytes.Clone(raw), tpl: &tpl}
	p.mu.Unlock()
	return &tpl, nil
}
