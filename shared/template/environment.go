package template

import "strings"

// EnvironmentOverride holds the step overrides of one environment
// (environments.<name> in YAML). ParseOptions.Environment selects which one
// is merged into the steps; all of them are kept and validated.
type EnvironmentOverride struct {
	Steps []StepOverride `json:"steps"`
}

// AllSteps is the StepOverride name that applies an override to every step
// (tasker-core's convention, used by several of its fixtures).
const AllSteps = "ALL"

// StepOverride changes one step, named by Name (or every step when Name is
// AllSteps), in one environment. Nil fields leave the step alone. Overrides
// apply in order, so a later one wins over an earlier one for the same field.
type StepOverride struct {
	Name           string           `json:"name"`
	Handler        *HandlerOverride `json:"handler,omitempty"`
	Retry          *RetryOverride   `json:"retry,omitempty"`
	TimeoutSeconds *int             `json:"timeout_seconds,omitempty"`
}

// HandlerOverride changes a step's handler. Initialization keys are merged
// into the step's (recursively for nested maps).
type HandlerOverride struct {
	Callable       *string        `json:"callable,omitempty"`
	Method         *string        `json:"method,omitempty"`
	Resolver       *string        `json:"resolver,omitempty"`
	Initialization map[string]any `json:"initialization,omitempty"`
}

// RetryOverride changes fields of a step's retry policy.
type RetryOverride struct {
	Retryable     *bool    `json:"retryable,omitempty"`
	MaxAttempts   *int     `json:"max_attempts,omitempty"`
	Backoff       *Backoff `json:"backoff,omitempty"`
	BackoffBaseMs *int     `json:"backoff_base_ms,omitempty"`
	MaxBackoffMs  *int     `json:"max_backoff_ms,omitempty"`
	Jitter        *bool    `json:"jitter,omitempty"`
}

var (
	environmentKeys   = []string{"steps"}
	stepOverrideKeys  = []string{"name", "handler", "retry", "timeout_seconds"}
	retryOverrideKeys = []string{"retryable", "max_attempts", "backoff", "backoff_base_ms", "max_backoff_ms", "jitter"}
)

func (d *decoder) environments(v any, path string) map[string]EnvironmentOverride {
	m := d.object(v, path)
	if m == nil {
		return nil
	}
	out := make(map[string]EnvironmentOverride, len(m))
	for _, name := range sortedKeys(m) {
		p := field(path, name)
		em := d.object(m[name], p)
		ov := EnvironmentOverride{Steps: []StepOverride{}}
		if em != nil {
			d.keys(em, p, environmentKeys)
			sp := field(p, "steps")
			for i, it := range d.list(em["steps"], sp) {
				ip := index(sp, i)
				if so := d.object(it, ip); so != nil {
					ov.Steps = append(ov.Steps, d.stepOverride(so, ip))
				} else if it == nil {
					d.add(ip, "must be a mapping")
				}
			}
		}
		out[name] = ov
	}
	return out
}

func (d *decoder) stepOverride(m map[string]any, path string) StepOverride {
	d.keys(m, path, stepOverrideKeys)
	so := StepOverride{Name: d.str(m, path, "name")}
	if n, ok := d.integer(m, path, "timeout_seconds"); ok {
		so.TimeoutSeconds = &n
	}
	if hm := d.object(m["handler"], field(path, "handler")); hm != nil {
		hp := field(path, "handler")
		d.keys(hm, hp, handlerKeys)
		h := &HandlerOverride{
			Callable:       d.strp(hm, hp, "callable"),
			Method:         d.strp(hm, hp, "method"),
			Resolver:       d.strp(hm, hp, "resolver"),
			Initialization: d.object(hm["initialization"], field(hp, "initialization")),
		}
		so.Handler = h
	}
	if rm := d.object(m["retry"], field(path, "retry")); rm != nil {
		rp := field(path, "retry")
		d.keys(rm, rp, retryOverrideKeys)
		r := &RetryOverride{}
		if b, ok := d.boolean(rm, rp, "retryable"); ok {
			r.Retryable = &b
		}
		if n, ok := d.integer(rm, rp, "max_attempts"); ok {
			r.MaxAttempts = &n
		}
		if s := d.strp(rm, rp, "backoff"); s != nil {
			b := Backoff(*s)
			r.Backoff = &b
		}
		if n, ok := d.integer(rm, rp, "backoff_base_ms"); ok {
			r.BackoffBaseMs = &n
		}
		if n, ok := d.integer(rm, rp, "max_backoff_ms"); ok {
			r.MaxBackoffMs = &n
		}
		if b, ok := d.boolean(rm, rp, "jitter"); ok {
			r.Jitter = &b
		}
		so.Retry = r
	}
	return so
}

// strp reads an optional string m[key] as a pointer: nil when absent.
func (d *decoder) strp(m map[string]any, path, key string) *string {
	if m[key] == nil {
		return nil
	}
	s := d.str(m, path, key)
	return &s
}

// mergeEnvironment deep-merges environments.<env>.steps into the document's
// steps, matching by name (AllSteps matches all), in order, before the steps
// are decoded: maps merge key by key, anything else replaces. The merged
// fields take the lines of the override, so errors point at the value that is
// in force. Overrides naming no step are skipped here and reported by
// Validate.
func (d *decoder) mergeEnvironment(doc map[string]any, env string) {
	envs, _ := doc["environments"].(map[string]any)
	ov, _ := envs[env].(map[string]any)
	overrides, _ := ov["steps"].([]any)
	steps, _ := doc["steps"].([]any)
	byName := map[string]int{}
	for i, s := range steps {
		if m, ok := s.(map[string]any); ok {
			name, ok := d.scalarText(m["name"], field(index("steps", i), "name"))
			if _, dup := byName[name]; ok && !dup {
				byName[name] = i
			}
		}
	}
	from := field(field("environments", env), "steps")
	for j, o := range overrides {
		om, _ := o.(map[string]any)
		name, ok := d.scalarText(om["name"], field(index(from, j), "name"))
		if !ok {
			continue
		}
		var targets []int
		if name == AllSteps {
			for i := range steps {
				targets = append(targets, i)
			}
		} else if i, found := byName[name]; found {
			targets = []int{i}
		}
		changes := make(map[string]any, len(om))
		for k, v := range om {
			if k != "name" {
				changes[k] = v
			}
		}
		for _, i := range targets {
			if _, isMap := steps[i].(map[string]any); !isMap {
				continue // reported when the steps are decoded
			}
			steps[i] = deepMerge(steps[i], changes)
			d.src.remap(index(from, j), index("steps", i))
		}
	}
}

// deepMerge returns base with over merged in: maps merge recursively,
// everything else in over replaces. It never modifies its arguments.
func deepMerge(base, over any) any {
	bm, ok1 := base.(map[string]any)
	om, ok2 := over.(map[string]any)
	if !ok1 || !ok2 {
		return over
	}
	out := make(map[string]any, len(bm)+len(om))
	for k, v := range bm {
		out[k] = v
	}
	for k, v := range om {
		out[k] = deepMerge(bm[k], v)
	}
	return out
}

// remap gives the fields under path to (except its name) the lines and texts
// of the same fields under path from.
func (s *source) remap(from, to string) {
	skip := from + ".name"
	type entry struct {
		path string
		line int
	}
	var lines []entry
	for p, l := range s.lines {
		if under(p, from) && p != from && !under(p, skip) {
			lines = append(lines, entry{to + p[len(from):], l})
		}
	}
	for _, e := range lines {
		s.lines[e.path] = e.line
	}
	texts := map[string]string{}
	for p, t := range s.texts {
		if under(p, from) && !under(p, skip) {
			texts[to+p[len(from):]] = t
		}
	}
	for p, t := range texts {
		s.texts[p] = t
	}
}

// under reports whether path is prefix or a field or index below it.
func under(path, prefix string) bool {
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	rest := path[len(prefix):]
	return rest == "" || rest[0] == '.' || rest[0] == '['
}
