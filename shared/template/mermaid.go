package template

import (
	"fmt"
	"sort"
	"strings"
)

// stateStyles colours the step states in Mermaid output.
var stateStyles = map[string]string{
	"pending":                             "fill:#f3f4f6,stroke:#9ca3af",
	"enqueued":                            "fill:#dbeafe,stroke:#3b82f6",
	"in_progress":                         "fill:#bfdbfe,stroke:#1d4ed8",
	"enqueued_for_orchestration":          "fill:#e0e7ff,stroke:#4f46e5",
	"enqueued_as_error_for_orchestration": "fill:#fde68a,stroke:#d97706",
	"waiting_for_retry":                   "fill:#fef3c7,stroke:#d97706",
	"complete":                            "fill:#bbf7d0,stroke:#15803d",
	"error":                               "fill:#fecaca,stroke:#b91c1c",
	"cancelled":                           "fill:#e5e7eb,stroke:#6b7280,stroke-dasharray:4 2",
	"resolved_manually":                   "fill:#d9f99d,stroke:#4d7c0f",
}

const (
	notCreatedClass = "not_created"
	notCreatedStyle = "fill:#ffffff,stroke:#d1d5db,stroke-dasharray:3 3,color:#9ca3af"
	otherStateStyle = "fill:#f5f5f5,stroke:#737373"
)

// Mermaid renders the template's DAG as a Mermaid flowchart ("graph TD").
// Nodes are listed in template order, edges in topological order of their
// target. Arrows run from a step to the steps that depend on it; dashed
// arrows lead to steps the orchestrator creates later (see InitialSteps).
// Step types other than standard are shown by shape and named under the
// step: decision {rhombus}, batchable {{hexagon}}, batch_worker
// [[subroutine]], deferred_convergence ([stadium]).
//
// When states is not nil it maps step names to their states (as
// `tasker task visualize` does for a running task): each node shows its state
// and is coloured by it, and steps with no entry are drawn as not created.
// Entries named "<batch_worker step>_<suffix>" that are no template step are
// drawn as instances of that worker, wired like it.
func (t *Template) Mermaid(states map[string]string) string {
	g := t.graph()
	initial := map[*Step]bool{}
	for _, s := range t.InitialSteps() {
		initial[s] = true
	}
	var b strings.Builder
	b.WriteString("graph TD\n")
	used := map[string]string{} // class name -> style
	var classes []string        // "class id name" lines

	node := func(id, name string, typ StepType, state string, known bool) {
		label := escapeLabel(name)
		if typ != StepStandard && typ != "" {
			label += "<br/><i>" + escapeLabel(string(typ)) + "</i>"
		}
		if states != nil {
			cls := notCreatedClass
			style := notCreatedStyle
			if known {
				label += "<br/>" + escapeLabel(state)
				cls = "st_" + classSafe(state)
				style = stateStyles[state]
				if style == "" {
					style = otherStateStyle
				}
			}
			used[cls] = style
			classes = append(classes, "    class "+id+" "+cls+"\n")
		}
		open, closing := shape(typ)
		fmt.Fprintf(&b, "    %s%s\"%s\"%s\n", id, open, label, closing)
	}
	for i := range t.Steps {
		s := &t.Steps[i]
		state, known := states[s.Name]
		node(stepID(i), s.Name, s.Type, state, known)
	}
	instances := t.batchInstances(states)
	for k, inst := range instances {
		node(fmt.Sprintf("b%d", k), inst.name, StepStandard, states[inst.name], true)
	}

	for _, i := range g.order() {
		arrow := " --> "
		if !initial[&t.Steps[i]] {
			arrow = " -.-> "
		}
		for _, p := range g.parents[i] {
			b.WriteString("    " + stepID(p) + arrow + stepID(i) + "\n")
		}
	}
	for k, inst := range instances {
		id := fmt.Sprintf("b%d", k)
		for _, p := range g.parents[inst.worker] {
			b.WriteString("    " + stepID(p) + " --> " + id + "\n")
		}
		for _, c := range g.children[inst.worker] {
			b.WriteString("    " + id + " --> " + stepID(c) + "\n")
		}
	}

	for _, cls := range sortedKeys(used) {
		fmt.Fprintf(&b, "    classDef %s %s\n", cls, used[cls])
	}
	for _, c := range classes {
		b.WriteString(c)
	}
	return b.String()
}

type batchInstance struct {
	name   string
	worker int // index of the batch_worker step it was made from
}

// batchInstances finds the state entries that are instances of batch_worker
// steps ("process_csv_batch_001"), sorted by name.
func (t *Template) batchInstances(states map[string]string) []batchInstance {
	var out []batchInstance
	for _, name := range sortedKeys(states) {
		if _, isStep := t.Step(name); isStep {
			continue
		}
		best := -1
		for i := range t.Steps {
			s := &t.Steps[i]
			if s.Type == StepBatchWorker && strings.HasPrefix(name, s.Name+"_") &&
				(best < 0 || len(s.Name) > len(t.Steps[best].Name)) {
				best = i
			}
		}
		if best >= 0 {
			out = append(out, batchInstance{name: name, worker: best})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func stepID(i int) string { return fmt.Sprintf("s%d", i) }

// shape returns the Mermaid brackets for a step type.
func shape(t StepType) (string, string) {
	switch t {
	case StepDecision:
		return "{", "}"
	case StepBatchable:
		return "{{", "}}"
	case StepBatchWorker:
		return "[[", "]]"
	case StepDeferredConvergence:
		return "([", "])"
	}
	return "[", "]"
}

// escapeLabel makes text safe inside a quoted Mermaid label.
var labelEscaper = strings.NewReplacer(
	`"`, "#quot;",
	"<", "#lt;",
	">", "#gt;",
	"\r", " ",
	"\n", " ",
)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }

// classSafe turns a state into a Mermaid class name.
func classSafe(s string) string {
	if s == "" {
		return "unknown"
	}
	return strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, s)
}
