package template

import (
	"fmt"
	"slices"
)

// MaxStepsPerDecision bounds how many steps one decision may ask for.
const MaxStepsPerDecision = 100

// DecisionSteps is the set of steps a decision step creates when its
// handler chooses the steps named in requested, in template order:
//
//   - the requested steps, each of which must be a step the decision owns:
//     reachable from the decision without passing through another decision
//     step (that one creates its own descendants), and not a
//     deferred_convergence or batch_worker step (those are created by the
//     engine);
//   - every step below them that the decision owns, transitively, down to
//     and including the next decision steps (a deep chain of branch steps is
//     created whole); deferred_convergence and batch_worker steps are not
//     walked into;
//   - every deferred_convergence step one of whose dependencies is in the
//     set (it waits for the branches that exist);
//   - the steps below those convergence steps whose dependencies are all in
//     the set or are the decision itself.
//
// A name the template does not have, or a step the decision does not own,
// is an error naming it.
func (t *Template) DecisionSteps(decision string, requested []string) ([]*Step, error) {
	g := t.graph()
	d, ok := g.byName[decision]
	if !ok {
		return nil, fmt.Errorf("decision step %q is not in template %s", decision, t.Key())
	}
	if t.Steps[d].Type != StepDecision {
		return nil, fmt.Errorf("step %q is a %s step, not a decision", decision, t.Steps[d].effectiveType())
	}
	if len(requested) > MaxStepsPerDecision {
		return nil, fmt.Errorf("decision %q asks for %d steps (at most %d)", decision, len(requested), MaxStepsPerDecision)
	}
	owned := g.ownedBy(t, d)
	in := make([]bool, len(t.Steps))
	var frontier []int
	for _, name := range requested {
		i, ok := g.byName[name]
		switch {
		case !ok:
			return nil, fmt.Errorf("decision %q chose step %q, which template %s does not have", decision, name, t.Key())
		case !owned[i]:
			return nil, fmt.Errorf("decision %q chose step %q, which is not one of its descendants", decision, name)
		case t.Steps[i].Type == StepDeferredConvergence || t.Steps[i].Type == StepBatchWorker:
			return nil, fmt.Errorf("decision %q chose step %q, a %s step the engine creates itself",
				decision, name, t.Steps[i].Type)
		}
		if !in[i] {
			in[i] = true
			if t.Steps[i].Type != StepDecision {
				frontier = append(frontier, i) // a chosen decision's children are its own
			}
		}
	}
	// Everything the decision owns below the chosen steps.
	for len(frontier) > 0 {
		v := frontier[len(frontier)-1]
		frontier = frontier[:len(frontier)-1]
		for _, c := range g.children[v] {
			if in[c] || !owned[c] || t.Steps[c].Type == StepDeferredConvergence || t.Steps[c].Type == StepBatchWorker {
				continue
			}
			in[c] = true
			if t.Steps[c].Type != StepDecision {
				frontier = append(frontier, c)
			}
		}
	}
	// Convergence steps waiting for any of them, and what follows those.
	var post []int
	for i := range t.Steps {
		if t.Steps[i].Type != StepDeferredConvergence || in[i] {
			continue
		}
		if slices.ContainsFunc(g.parents[i], func(p int) bool { return in[p] }) {
			in[i] = true
			post = append(post, i)
		}
	}
	for len(post) > 0 {
		v := post[len(post)-1]
		post = post[:len(post)-1]
		for _, c := range g.children[v] {
			if in[c] {
				continue
			}
			if !slices.ContainsFunc(g.parents[c], func(p int) bool { return !in[p] && p != d }) {
				in[c] = true
				post = append(post, c)
			}
		}
	}
	var out []*Step
	for i := range t.Steps {
		if in[i] {
			out = append(out, &t.Steps[i])
		}
	}
	return out, nil
}

// ownedBy marks the steps decision d creates: those reachable from d's
// children without passing through another decision step (the decision
// steps met are owned, their descendants are not).
func (g *graph) ownedBy(t *Template, d int) []bool {
	owned := make([]bool, len(g.children))
	queue := slices.Clone(g.children[d])
	for _, c := range queue {
		owned[c] = true
	}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		if t.Steps[v].Type == StepDecision {
			continue
		}
		for _, c := range g.children[v] {
			if !owned[c] {
				owned[c] = true
				queue = append(queue, c)
			}
		}
	}
	return owned
}

// effectiveType is the step's type with the default spelled out.
func (s *Step) effectiveType() StepType {
	if s.Type == "" {
		return StepStandard
	}
	return s.Type
}
