package template

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

var namespacePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks the template against the rules of the format and returns a
// ValidationErrors (sorted by line) or nil. Each error names the file, the
// line and the field path of the offending value.
func (t *Template) Validate() error {
	v := &validator{t: t}
	v.header()
	g := t.graph()
	v.steps(g)
	v.cycles(g)
	v.inputSchema()
	v.environments()
	sort.SliceStable(v.errs, func(i, j int) bool { return v.errs[i].Line < v.errs[j].Line })
	return v.errs.err()
}

type validator struct {
	t    *Template
	errs ValidationErrors
}

func (v *validator) add(path, format string, args ...any) {
	e := &Error{Field: path, Message: fmt.Sprintf(format, args...)}
	if v.t.src != nil {
		e.File, e.Line = v.t.src.file, v.t.src.line(path)
	}
	v.errs = append(v.errs, e)
}

// where names the place of a field for a message: its line when known, else
// its path.
func (v *validator) where(path string) string {
	if l := v.t.Line(path); l > 0 {
		return fmt.Sprintf("line %d", l)
	}
	return path
}

// identifier checks a name-like field: present when required, at most
// maxLen characters (0: no limit), and passing rule (identifierProblem or
// keyPartProblem).
func (v *validator) identifier(path, s string, required bool, maxLen int, rule func(string) string) {
	switch n := utf8.RuneCountInString(s); {
	case n == 0 && required:
		v.add(path, "is required")
	case n == 0:
	case maxLen > 0 && n > maxLen:
		v.add(path, "must be at most %d characters (has %d)", maxLen, n)
	default:
		if p := rule(s); p != "" {
			v.add(path, "%s", p)
		}
	}
}

func (v *validator) header() {
	t := v.t
	v.identifier("name", t.Name, true, maxTemplateNameLength, keyPartProblem)
	v.identifier("version", t.Version, true, maxVersionLength, keyPartProblem)
	switch {
	case t.NamespaceName == "":
		v.add("namespace_name", "is required")
	case utf8.RuneCountInString(t.NamespaceName) > maxNamespaceLength:
		v.add("namespace_name", "must be at most %d characters (has %d)", maxNamespaceLength, utf8.RuneCountInString(t.NamespaceName))
	case !namespacePattern.MatchString(t.NamespaceName):
		v.add("namespace_name", "must hold only letters, digits and underscores and start with a letter or underscore")
	}
	if !t.IdentityStrategy.Valid() {
		v.add("identity_strategy", "must be one of strict, caller_provided, always_unique (got %q)", t.IdentityStrategy)
	}
	for i, e := range t.DomainEvents {
		v.identifier(field(index("domain_events", i), "name"), e.Name, true, 0, identifierProblem)
	}
	if lc := t.Lifecycle; lc != nil {
		for _, f := range []struct {
			key string
			n   *int
		}{
			{"max_duration_minutes", lc.MaxDurationMinutes},
			{"max_waiting_for_dependencies_minutes", lc.MaxWaitingForDependenciesMinutes},
			{"max_waiting_for_retry_minutes", lc.MaxWaitingForRetryMinutes},
			{"max_steps_in_process_minutes", lc.MaxStepsInProcessMinutes},
		} {
			if f.n != nil && (*f.n < 1 || *f.n > maxLifecycleMinutes) {
				v.add(field("lifecycle", f.key), "must be between 1 and %d (got %d)", maxLifecycleMinutes, *f.n)
			}
		}
		if !lc.StalenessAction.Valid() {
			v.add("lifecycle.staleness_action", "must be one of dlq, error, none (got %q)", lc.StalenessAction)
		}
	}
	if len(t.Steps) == 0 {
		v.add("steps", "at least one step is required")
	}
}

func (v *validator) steps(g *graph) {
	t := v.t
	for i := range t.Steps {
		s := &t.Steps[i]
		p := index("steps", i)
		v.identifier(field(p, "name"), s.Name, true, maxStepNameLength, identifierProblem)
		if first := g.byName[s.Name]; s.Name != "" && first != i {
			v.add(field(p, "name"), "duplicate step name %q (first defined at %s)", s.Name, v.where(index("steps", first)))
		}
		v.identifier(field(p, "handler.callable"), s.Handler.Callable, true, maxCallableLength, identifierProblem)
		v.identifier(field(p, "handler.method"), s.Handler.Method, false, 0, identifierProblem)
		v.identifier(field(p, "handler.resolver"), s.Handler.Resolver, false, 0, identifierProblem)
		if s.Type != "" && !s.Type.Valid() { // empty reads as standard
			v.add(field(p, "type"), "must be one of standard, decision, deferred_convergence, batchable, batch_worker (got %q)", s.Type)
		}
		v.dependencies(p, s, g)
		v.retry(field(p, "retry"), s.Retry)
		v.timeout(field(p, "timeout_seconds"), s.TimeoutSeconds)
		for j, e := range s.PublishesEvents {
			ep := index(field(p, "publishes_events"), j)
			v.identifier(field(ep, "name"), e.Name, true, 0, identifierProblem)
			if !e.Condition.Valid() {
				v.add(field(ep, "condition"), "must be one of success, failure, retryable_failure, permanent_failure, always (got %q)", e.Condition)
			}
			if !e.DeliveryMode.Valid() {
				v.add(field(ep, "delivery_mode"), "must be one of durable, fast, broadcast (got %q)", e.DeliveryMode)
			}
			if len(e.Schema) > 0 && string(e.Schema) != "null" {
				if _, err := compileEventSchema(e.Schema); err != nil {
					v.add(field(ep, "schema"), "is not a valid JSON Schema: %s", oneLine(err.Error()))
				}
			}
		}
		if s.BatchConfig != nil {
			v.batchConfig(field(p, "batch_config"), s, g)
		}
	}
}

func (v *validator) dependencies(p string, s *Step, g *graph) {
	dp := field(p, "dependencies")
	for j, dep := range s.Dependencies {
		jp := index(dp, j)
		switch _, known := g.byName[dep]; {
		case dep == s.Name:
			v.add(jp, "step %q depends on itself", s.Name)
		case !known:
			v.add(jp, "unknown step %q", dep)
		case slices.Index(s.Dependencies, dep) < j:
			v.add(jp, "dependency %q is listed twice", dep)
		}
	}
	switch s.Type {
	case StepDecision:
		if len(s.Dependencies) == 0 {
			v.add(dp, "a decision step must have at least one dependency")
		}
	case StepDeferredConvergence:
		if len(s.Dependencies) == 0 {
			v.add(dp, "a deferred_convergence step must have at least one dependency")
		}
	}
}

func (v *validator) retry(p string, r Retry) {
	if r.MaxAttempts < 0 || r.MaxAttempts > MaxAttemptsLimit {
		v.add(field(p, "max_attempts"), "must be between 0 and %d (got %d)", MaxAttemptsLimit, r.MaxAttempts)
	}
	if !r.Backoff.Valid() {
		v.add(field(p, "backoff"), "must be one of none, linear, exponential, fibonacci (got %q)", r.Backoff)
	}
	baseOK := r.BackoffBaseMs >= 1 && r.BackoffBaseMs <= MaxBackoffLimitMs
	if !baseOK {
		v.add(field(p, "backoff_base_ms"), "must be between 1 and %d (got %d)", MaxBackoffLimitMs, r.BackoffBaseMs)
	}
	switch {
	case r.MaxBackoffMs > MaxBackoffLimitMs:
		v.add(field(p, "max_backoff_ms"), "must be at most %d (got %d)", MaxBackoffLimitMs, r.MaxBackoffMs)
	case baseOK && r.MaxBackoffMs < r.BackoffBaseMs:
		v.add(field(p, "max_backoff_ms"), "must be at least backoff_base_ms (%d), got %d", r.BackoffBaseMs, r.MaxBackoffMs)
	}
	if s := r.InitialDelaySeconds; s != nil && !legacyDelayOK(*s) {
		v.add(field(p, "initial_delay"), "must be more than 0 and at most %d seconds", maxLegacyDelaySeconds)
	}
	if s := r.MaxDelaySeconds; s != nil && !legacyDelayOK(*s) {
		v.add(field(p, "max_delay"), "must be more than 0 and at most %d seconds", maxLegacyDelaySeconds)
	}
}

func (v *validator) timeout(p string, n int) {
	if n < 0 || n > MaxTimeoutSeconds {
		v.add(p, "must be between 0 and %d (got %d)", MaxTimeoutSeconds, n)
	}
}

func (v *validator) batchConfig(p string, s *Step, g *graph) {
	bc := s.BatchConfig
	if s.Type != StepBatchable && s.Type != StepBatchWorker {
		v.add(p, "batch_config is only allowed on batchable and batch_worker steps")
	}
	switch w, ok := g.byName[bc.WorkerTemplate]; {
	case bc.WorkerTemplate == "":
		v.add(field(p, "worker_template"), "is required")
	case !ok:
		v.add(field(p, "worker_template"), "unknown step %q", bc.WorkerTemplate)
	case v.t.Steps[w].Type != StepBatchWorker:
		v.add(field(p, "worker_template"), "step %q must be of type batch_worker (is %s)", bc.WorkerTemplate, v.t.Steps[w].Type)
	}
	if bc.BatchSize < 1 {
		v.add(field(p, "batch_size"), "must be at least 1 (got %d)", bc.BatchSize)
	}
	if bc.Parallelism < 1 {
		v.add(field(p, "parallelism"), "must be at least 1 (got %d)", bc.Parallelism)
	}
	if bc.CursorField == "" {
		v.add(field(p, "cursor_field"), "is required")
	}
	if !bc.FailureStrategy.Valid() {
		v.add(field(p, "failure_strategy"), "must be one of continue_on_failure, fail_fast, isolate (got %q)", bc.FailureStrategy)
	}
}

func (v *validator) cycles(g *graph) {
	for _, cycle := range g.cycles() {
		names := make([]string, len(cycle))
		for i, s := range cycle {
			names[i] = plainName(v.t.Steps[s].Name)
		}
		v.add(field(index("steps", cycle[0]), "dependencies"), "cycle: %s", strings.Join(names, " -> "))
	}
}

func (v *validator) inputSchema() {
	if v.t.InputSchema == nil {
		return
	}
	if _, err := compileSchema(v.t.InputSchema); err != nil {
		v.add("input_schema", "is not a valid JSON Schema: %s", oneLine(err.Error()))
	}
}

// environments checks every environment's overrides, selected or not: each
// must name a step (or AllSteps) once, and the values it sets must be in
// range.
func (v *validator) environments() {
	for _, env := range sortedKeys(v.t.Environments) {
		ep := field(field("environments", env), "steps")
		seen := map[string]int{}
		for j, so := range v.t.Environments[env].Steps {
			p := index(ep, j)
			switch prev, dup := seen[so.Name]; {
			case so.Name == "":
				v.add(field(p, "name"), "is required")
			case dup:
				v.add(field(p, "name"), "step %q is already overridden at %s", so.Name, v.where(index(ep, prev)))
			default:
				if _, ok := v.t.Step(so.Name); !ok && so.Name != AllSteps {
					v.add(field(p, "name"), "unknown step %q", so.Name)
				}
				seen[so.Name] = j
			}
			if so.TimeoutSeconds != nil {
				v.timeout(field(p, "timeout_seconds"), *so.TimeoutSeconds)
			}
			if r := so.Retry; r != nil {
				rp := field(p, "retry")
				if r.MaxAttempts != nil && (*r.MaxAttempts < 0 || *r.MaxAttempts > MaxAttemptsLimit) {
					v.add(field(rp, "max_attempts"), "must be between 0 and %d (got %d)", MaxAttemptsLimit, *r.MaxAttempts)
				}
				if r.Backoff != nil && !r.Backoff.Valid() {
					v.add(field(rp, "backoff"), "must be one of none, linear, exponential, fibonacci (got %q)", *r.Backoff)
				}
				if r.BackoffBaseMs != nil && (*r.BackoffBaseMs < 1 || *r.BackoffBaseMs > MaxBackoffLimitMs) {
					v.add(field(rp, "backoff_base_ms"), "must be between 1 and %d (got %d)", MaxBackoffLimitMs, *r.BackoffBaseMs)
				}
				if r.MaxBackoffMs != nil && (*r.MaxBackoffMs < 1 || *r.MaxBackoffMs > MaxBackoffLimitMs) {
					v.add(field(rp, "max_backoff_ms"), "must be between 1 and %d (got %d)", MaxBackoffLimitMs, *r.MaxBackoffMs)
				}
			}
			if h := so.Handler; h != nil {
				if h.Callable != nil {
					v.identifier(field(p, "handler.callable"), *h.Callable, true, maxCallableLength, identifierProblem)
				}
				if h.Method != nil {
					v.identifier(field(p, "handler.method"), *h.Method, false, 0, identifierProblem)
				}
				if h.Resolver != nil {
					v.identifier(field(p, "handler.resolver"), *h.Resolver, false, 0, identifierProblem)
				}
			}
		}
	}
}

// plainName shows a step name as it is, or quoted when it holds spaces,
// control characters or arrows that would muddle a message.
func plainName(name string) string {
	for _, r := range name {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return strconv.Quote(name)
		}
	}
	if name == "" || strings.Contains(name, "->") {
		return strconv.Quote(name)
	}
	return name
}

// oneLine folds a multi-line message onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}
