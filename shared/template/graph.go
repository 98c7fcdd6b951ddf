package template

import "slices"

// graph is a template's dependency graph over step indexes. Edges run from a
// step to the steps that depend on it. Unknown dependencies, self-dependencies
// and repeats are left out (Validate reports them); a repeated step name
// resolves to its first definition.
type graph struct {
	byName   map[string]int
	parents  [][]int
	children [][]int
}

func (t *Template) graph() *graph {
	n := len(t.Steps)
	g := &graph{byName: make(map[string]int, n), parents: make([][]int, n), children: make([][]int, n)}
	for i := range t.Steps {
		if _, dup := g.byName[t.Steps[i].Name]; !dup {
			g.byName[t.Steps[i].Name] = i
		}
	}
	for i := range t.Steps {
		for _, dep := range t.Steps[i].Dependencies {
			p, ok := g.byName[dep]
			if !ok || p == i || slices.Contains(g.parents[i], p) {
				continue
			}
			g.parents[i] = append(g.parents[i], p)
			g.children[p] = append(g.children[p], i)
		}
	}
	return g
}

// Roots returns the steps with no dependencies, in template order.
func (t *Template) Roots() []*Step {
	var out []*Step
	for i := range t.Steps {
		if len(t.Steps[i].Dependencies) == 0 {
			out = append(out, &t.Steps[i])
		}
	}
	return out
}

// Dependents returns the steps that list name as a dependency, in template
// order.
func (t *Template) Dependents(name string) []*Step {
	g := t.graph()
	i, ok := g.byName[name]
	if !ok {
		return nil
	}
	out := make([]*Step, 0, len(g.children[i]))
	for _, c := range g.children[i] {
		out = append(out, &t.Steps[c])
	}
	return out
}

// Descendants returns every step that depends on name directly or
// transitively, in topological order.
func (t *Template) Descendants(name string) []*Step {
	g := t.graph()
	i, ok := g.byName[name]
	if !ok {
		return nil
	}
	reach := g.reachable([]int{i})
	reach[i] = false
	var out []*Step
	for _, j := range g.order() {
		if reach[j] {
			out = append(out, &t.Steps[j])
		}
	}
	return out
}

// TopologicalOrder returns the step names so that every step comes after its
// dependencies; among steps that are ready together, template order wins, so
// the result is deterministic. For an invalid template the order is best
// effort: unknown dependencies are ignored and steps on or behind a cycle come
// last, in template order.
func (t *Template) TopologicalOrder() []string {
	g := t.graph()
	out := make([]string, 0, len(t.Steps))
	for _, i := range g.order() {
		out = append(out, t.Steps[i].Name)
	}
	return out
}

// InitialSteps returns the steps created with a task, in template order.
// Left out are the steps created later by the orchestrator: batch_worker
// templates, deferred_convergence steps, every descendant of a decision step
// (the decision creates them) and, since a step cannot exist before its
// parents, every descendant of any step left out.
func (t *Template) InitialSteps() []*Step {
	g := t.graph()
	var seeds []int
	for i := range t.Steps {
		switch t.Steps[i].Type {
		case StepBatchWorker, StepDeferredConvergence:
			seeds = append(seeds, i)
		case StepDecision:
			seeds = append(seeds, g.children[i]...)
		}
	}
	later := g.reachable(seeds)
	var out []*Step
	for i := range t.Steps {
		if !later[i] {
			out = append(out, &t.Steps[i])
		}
	}
	return out
}

// reachable marks the seeds and everything below them.
func (g *graph) reachable(seeds []int) []bool {
	seen := make([]bool, len(g.children))
	queue := slices.Clone(seeds)
	for _, s := range seeds {
		seen[s] = true
	}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, c := range g.children[v] {
			if !seen[c] {
				seen[c] = true
				queue = append(queue, c)
			}
		}
	}
	return seen
}

// order is Kahn's algorithm taking the lowest ready index first; indexes left
// over by a cycle follow in index order.
func (g *graph) order() []int {
	n := len(g.parents)
	waiting := make([]int, n)
	var ready []int
	for i := range n {
		waiting[i] = len(g.parents[i])
		if waiting[i] == 0 {
			ready = append(ready, i)
		}
	}
	out := make([]int, 0, n)
	done := make([]bool, n)
	for len(ready) > 0 {
		v := ready[0]
		ready = ready[1:]
		out = append(out, v)
		done[v] = true
		for _, c := range g.children[v] {
			waiting[c]--
			if waiting[c] == 0 {
				pos, _ := slices.BinarySearch(ready, c)
				ready = slices.Insert(ready, pos, c)
			}
		}
	}
	for i := range n {
		if !done[i] {
			out = append(out, i)
		}
	}
	return out
}

// cycles returns one cycle for each strongly connected component of more than
// one step: the shortest path from the component's first step (in template
// order) back to itself, following edges from a step to its dependents.
func (g *graph) cycles() [][]int {
	n := len(g.children)
	num := make([]int, n) // discovery number; 0 = unvisited
	low := make([]int, n)
	onStack := make([]bool, n)
	var (
		stack   []int
		counter int
		comps   [][]int
	)
	var visit func(v int)
	visit = func(v int) {
		counter++
		num[v], low[v] = counter, counter
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range g.children[v] {
			if num[w] == 0 {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], num[w])
			}
		}
		if low[v] != num[v] {
			return
		}
		var comp []int
		for {
			w := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[w] = false
			comp = append(comp, w)
			if w == v {
				break
			}
		}
		if len(comp) > 1 {
			comps = append(comps, comp)
		}
	}
	for v := range n {
		if num[v] == 0 {
			visit(v)
		}
	}
	out := make([][]int, 0, len(comps))
	for _, comp := range comps {
		out = append(out, g.shortestCycle(comp))
	}
	slices.SortFunc(out, func(a, b []int) int { return a[0] - b[0] })
	return out
}

// shortestCycle finds the shortest cycle through the lowest index of a
// strongly connected component, staying inside it.
func (g *graph) shortestCycle(comp []int) []int {
	start := slices.Min(comp)
	in := make(map[int]bool, len(comp))
	for _, v := range comp {
		in[v] = true
	}
	prev := map[int]int{}
	queue := []int{start}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, c := range g.children[v] {
			if !in[c] {
				continue
			}
			if c == start {
				path := []int{start}
				for u := v; u != start; u = prev[u] {
					path = append(path, u)
				}
				slices.Reverse(path[1:])
				return append(path, start)
			}
			if _, seen := prev[c]; !seen {
				prev[c] = v
				queue = append(queue, c)
			}
		}
	}
	return []int{start, start} // unreachable for a real component
}
