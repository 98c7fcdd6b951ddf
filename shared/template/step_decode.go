package template

import "math"

func (d *decoder) steps(v any, path string) []Step {
	items := d.list(v, path)
	out := make([]Step, 0, len(items))
	for i, it := range items {
		p := index(path, i)
		m := d.object(it, p)
		if m == nil {
			if it == nil {
				d.add(p, "must be a mapping")
			}
			continue
		}
		out = append(out, d.step(m, p))
	}
	return out
}

func (d *decoder) step(m map[string]any, path string) Step {
	d.keys(m, path, stepKeys)
	s := Step{
		Name:             d.str(m, path, "name"),
		Description:      d.str(m, path, "description"),
		Handler:          d.handler(m["handler"], field(path, "handler")),
		Type:             StepStandard,
		Retry:            d.retry(m["retry"], field(path, "retry")),
		SystemDependency: d.str(m, path, "system_dependency"),
		PublishesEvents:  d.publishedEvents(m["publishes_events"], field(path, "publishes_events")),
		BatchConfig:      d.batchConfig(m["batch_config"], field(path, "batch_config")),
		ResultSchema:     d.raw(m, path, "result_schema"),
		Composition:      d.raw(m, path, "composition"),
		Lifecycle:        d.raw(m, path, "lifecycle"),
	}
	if v, key := d.alias(m, path, "type", "step_type"); v != nil {
		if t := d.str(m, path, key); t != "" {
			s.Type = StepType(t)
		}
	}
	if v, key := d.alias(m, path, "dependencies", "depends_on"); v != nil {
		s.Dependencies = d.strings(m, path, key)
	}
	if s.Dependencies == nil {
		s.Dependencies = []string{}
	}
	if n, ok := d.integer(m, path, "timeout_seconds"); ok {
		s.TimeoutSeconds = n
	}
	return s
}

func (d *decoder) handler(v any, path string) Handler {
	h := Handler{Method: DefaultHandlerMethod, Initialization: map[string]any{}}
	m := d.object(v, path)
	if m == nil {
		return h
	}
	d.keys(m, path, handlerKeys)
	h.Callable = d.str(m, path, "callable")
	if s := d.str(m, path, "method"); s != "" {
		h.Method = s
	}
	h.Resolver = d.str(m, path, "resolver")
	if init := d.object(m["initialization"], field(path, "initialization")); init != nil {
		h.Initialization = init
	}
	return h
}

// retry decodes a retry block and fills in defaults. See the package
// documentation for how the two delays default against each other.
func (d *decoder) retry(v any, path string) Retry {
	r := Retry{
		Retryable:   defaultRetryable,
		MaxAttempts: DefaultMaxAttempts,
		Backoff:     DefaultBackoff,
		Jitter:      defaultJitter,
	}
	m := d.object(v, path)
	var (
		base, maxb       int
		baseSet, maxbSet bool
	)
	if m != nil {
		d.keys(m, path, retryKeys)
		if b, ok := d.boolean(m, path, "retryable"); ok {
			r.Retryable = b
		}
		if n, ok := d.integer(m, path, "max_attempts"); ok {
			r.MaxAttempts = n
		}
		if s := d.str(m, path, "backoff"); s != "" {
			r.Backoff = Backoff(s)
		}
		if b, ok := d.boolean(m, path, "jitter"); ok {
			r.Jitter = b
		}
		base, baseSet = d.integer(m, path, "backoff_base_ms")
		maxb, maxbSet = d.integer(m, path, "max_backoff_ms")
		if f, ok := d.number(m, path, "initial_delay"); ok {
			r.InitialDelaySeconds = &f
			if !baseSet && legacyDelayOK(f) {
				base, baseSet = int(math.Round(f*1000)), true
			}
		}
		if f, ok := d.number(m, path, "max_delay"); ok {
			r.MaxDelaySeconds = &f
			if !maxbSet && legacyDelayOK(f) {
				maxb, maxbSet = int(math.Round(f*1000)), true
			}
		}
	}
	switch {
	case baseSet && maxbSet:
	case baseSet:
		maxb = min(max(DefaultMaxBackoffMs, base), MaxBackoffLimitMs)
	case maxbSet:
		base = max(min(DefaultBackoffBaseMs, maxb), 1)
	default:
		base, maxb = DefaultBackoffBaseMs, DefaultMaxBackoffMs
	}
	r.BackoffBaseMs, r.MaxBackoffMs = base, maxb
	return r
}

// legacyDelayOK reports whether a legacy delay in seconds converts to a
// delay in milliseconds within the allowed range.
func legacyDelayOK(seconds float64) bool {
	return seconds > 0 && seconds <= maxLegacyDelaySeconds
}

func (d *decoder) publishedEvents(v any, path string) []PublishedEvent {
	items := d.list(v, path)
	if items == nil {
		return nil
	}
	out := make([]PublishedEvent, 0, len(items))
	for i, it := range items {
		p := index(path, i)
		m := d.object(it, p)
		if m == nil {
			if it == nil {
				d.add(p, "must be a mapping")
			}
			continue
		}
		d.keys(m, p, eventKeys)
		e := PublishedEvent{
			Name:         d.str(m, p, "name"),
			Description:  d.str(m, p, "description"),
			Condition:    DefaultEventCondition,
			Schema:       d.raw(m, p, "schema"),
			DeliveryMode: DefaultDeliveryMode,
			Publisher:    d.str(m, p, "publisher"),
		}
		if c := d.str(m, p, "condition"); c != "" {
			e.Condition = EventCondition(c)
		}
		if dm := d.str(m, p, "delivery_mode"); dm != "" {
			e.DeliveryMode = DeliveryMode(dm)
		}
		out = append(out, e)
	}
	return out
}

func (d *decoder) batchConfig(v any, path string) *BatchConfig {
	m := d.object(v, path)
	if m == nil {
		return nil
	}
	d.keys(m, path, batchKeys)
	bc := &BatchConfig{
		BatchSize:       DefaultBatchSize,
		Parallelism:     DefaultBatchParallelism,
		CursorField:     DefaultCursorField,
		WorkerTemplate:  d.str(m, path, "worker_template"),
		FailureStrategy: DefaultFailureStrategy,
	}
	if n, ok := d.integer(m, path, "batch_size"); ok {
		bc.BatchSize = n
	}
	if n, ok := d.integer(m, path, "parallelism"); ok {
		bc.Parallelism = n
	}
	if s := d.str(m, path, "cursor_field"); s != "" {
		bc.CursorField = s
	}
	if s := d.str(m, path, "failure_strategy"); s != "" {
		bc.FailureStrategy = FailureStrategy(s)
	}
	return bc
}
