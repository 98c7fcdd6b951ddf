package config

import (
	"fmt"
	"time"
)

// Worker is the [worker] section: the worker service, which claims steps
// from its namespaces' queues, runs their handlers and reports results.
type Worker struct {
	// WorkerID names this worker in logs, metrics and step claims. Empty
	// (the default) means one generated at start-up from the host name and
	// process id ("<hostname>-<pid>"; tasker-worker prefixes
	// "tasker-worker-").
	WorkerID string `toml:"worker_id"`
	// Namespaces are the task namespaces whose queues
	// (worker_<namespace>_queue) this worker consumes. Empty (the default)
	// means every namespace of the templates registered with this worker.
	Namespaces []string `toml:"namespaces"`
	// ShutdownGrace is how long a graceful shutdown lets running handlers
	// finish and flushes their results; steps still running after it are
	// released for another worker to reclaim. Default 4s.
	ShutdownGrace time.Duration `toml:"shutdown_grace"`
	// Web is the worker's HTTP server (health, metrics, templates).
	Web WorkerWeb `toml:"web"`
	// Claims tunes how steps are claimed from the queues.
	Claims Claims `toml:"claims"`
	// Handlers tunes handler concurrency and timeouts.
	Handlers Handlers `toml:"handlers"`
	// Completion tunes how results are written back.
	Completion Completion `toml:"completion"`
	// Wasm configures WebAssembly step handlers (off by default).
	Wasm WorkerWasm `toml:"wasm"`
}

// WorkerWeb is the [worker.web] section.
type WorkerWeb struct {
	// Enabled starts the HTTP server. Default true.
	Enabled bool `toml:"enabled"`
	// BindAddress is the host:port to listen on. Default ":8081".
	BindAddress string `toml:"bind_address"`
	// Auth is authentication and authorization (off by default).
	Auth WebAuth `toml:"auth"`
}

// Claims is the [worker.claims] section: how the worker takes steps from
// its queues.
type Claims struct {
	// BatchSize is the most steps claimed in one statement; the worker
	// never claims more than it has free handler slots. Default 100
	// (production 200).
	BatchSize int `toml:"batch_size"`
	// VisibilityTimeout is the claim deadline: a step whose worker dies
	// reappears this long after its last heartbeat and is reclaimed (the
	// attempt counts). Default 30s (test 5s).
	VisibilityTimeout time.Duration `toml:"visibility_timeout"`
	// HeartbeatInterval is how often the claims of running steps are
	// extended; it must be shorter than VisibilityTimeout. Default 10s
	// (test 1s).
	HeartbeatInterval time.Duration `toml:"heartbeat_interval"`
	// PollInterval is deprecated and has no effect: claim loops wake on
	// NOTIFY and on the fallback poll of the process's queues, which
	// queues.poll_interval sets (one statement for every queue). Accepted
	// so that existing files load. Default 1s.
	PollInterval time.Duration `toml:"poll_interval"`
}

// Handlers is the [worker.handlers] section: how many handlers run at once
// and for how long.
type Handlers struct {
	// MaxConcurrent is the most handlers running at once. Default 100
	// (test 5, production 200).
	MaxConcurrent int `toml:"max_concurrent"`
	// DefaultTimeout bounds a handler run when its template step sets no
	// timeout_seconds; a timed-out run fails as retryable. Default 30s
	// (test 5s, production 60s).
	DefaultTimeout time.Duration `toml:"default_timeout"`
	// MinConcurrent is the floor of the adaptive limit, and the limit an
	// adaptive worker starts at. Default 10 (test 2).
	MinConcurrent int `toml:"min_concurrent"`
	// Adaptive moves the handler limit between MinConcurrent and
	// MaxConcurrent by demand: starting at MinConcurrent, every
	// ScaleInterval it grows when at least 80% of the slots were busy and
	// the visible backlog of the worker's queues exceeds its free slots (by
	// that excess, at most doubling), and shrinks by a quarter (never below
	// the peak use) when at most half were busy. When false the limit is
	// always MaxConcurrent. Default true.
	Adaptive bool `toml:"adaptive"`
	// ScaleInterval is how often the adaptive limit is re-evaluated.
	// Default 1s.
	ScaleInterval time.Duration `toml:"scale_interval"`
}

// Completion is the [worker.completion] section: writing step results
// back (one transaction per batch).
type Completion struct {
	// BatchSize is the most results committed in one transaction. Default
	// 200.
	BatchSize int `toml:"batch_size"`
	// FlushInterval is how long a result may wait for others to share its
	// transaction; 0 (the default) commits at once, batching only results
	// that are already waiting.
	FlushInterval time.Duration `toml:"flush_interval"`
	// ProcessSuccesses lets the worker do orchestration's part for its plain
	// successes in the transaction that records them (step complete,
	// children enqueued, task moved or finalized; see
	// store.CompleteAndProcessSteps) instead of sending them to
	// orchestration as result messages: a step saves a commit, a wake-up
	// and orchestration's transaction. Failures, decision and batchable
	// steps, results with domain events, traced tasks and tasks whose lock
	// is busy still go to orchestration. Default true.
	ProcessSuccesses bool `toml:"process_successes"`
}

func defaultWorker() Worker {
	return Worker{
		WorkerID:      "",
		Namespaces:    []string{},
		ShutdownGrace: 4 * time.Second,
		Web:           WorkerWeb{Enabled: true, BindAddress: ":8081", Auth: defaultWebAuth(ContextWorker)},
		Claims: Claims{
			BatchSize:         100,
			VisibilityTimeout: 30 * time.Second,
			HeartbeatInterval: 10 * time.Second,
			PollInterval:      time.Second,
		},
		Handlers: Handlers{
			MaxConcurrent:  100,
			DefaultTimeout: 30 * time.Second,
			MinConcurrent:  10,
			Adaptive:       true,
			ScaleInterval:  time.Second,
		},
		Completion: Completion{BatchSize: 200, FlushInterval: 0, ProcessSuccesses: true},
		Wasm:       defaultWorkerWasm(),
	}
}

// Validate checks the section; see [Problems].
func (w *Worker) Validate() error {
	var ps Problems
	if len(w.WorkerID) > 128 {
		ps.add("worker_id", fmt.Sprintf("must be at most 128 characters, got %d", len(w.WorkerID)))
	}
	seen := make(map[string]bool, len(w.Namespaces))
	for _, ns := range w.Namespaces {
		switch {
		case len(ns) == 0 || len(ns) > maxNamespaceLen || !namespaceRE.MatchString(ns):
			ps.add("namespaces", fmt.Sprintf("invalid namespace %q: want 1-%d letters, digits or underscores, not starting with a digit", ns, maxNamespaceLen))
		case seen[ns]:
			ps.add("namespaces", fmt.Sprintf("namespace %q is listed twice", ns))
		}
		seen[ns] = true
	}
	ps.positiveDuration("shutdown_grace", w.ShutdownGrace)
	ps.nest("web", w.Web.Validate())
	ps.nest("claims", w.Claims.Validate())
	ps.nest("handlers", w.Handlers.Validate())
	ps.nest("completion", w.Completion.Validate())
	ps.nest("wasm", w.Wasm.Validate())
	return ps.Err()
}

// Validate checks the section; see [Problems].
func (w *WorkerWeb) Validate() error {
	var ps Problems
	ps.bindAddress("bind_address", w.BindAddress)
	ps.nest("auth", w.Auth.validate([]string{EndpointsHealth, EndpointsMetrics}, nil))
	return ps.Err()
}

// Validate checks the section; see [Problems].
func (c *Claims) Validate() error {
	var ps Problems
	ps.intBetween("batch_size", int64(c.BatchSize), 1, 10000)
	visOK := ps.durationAtLeast("visibility_timeout", c.VisibilityTimeout, time.Second)
	if ps.positiveDuration("heartbeat_interval", c.HeartbeatInterval) && visOK && c.HeartbeatInterval >= c.VisibilityTimeout {
		ps.add("heartbeat_interval", fmt.Sprintf("must be shorter than visibility_timeout (%s), got %s",
			formatDuration(c.VisibilityTimeout), formatDuration(c.HeartbeatInterval)))
	}
	ps.positiveDuration("poll_interval", c.PollInterval)
	return ps.Err()
}

// Validate checks the section; see [Problems].
func (h *Handlers) Validate() error {
	var ps Problems
	maxOK := ps.intBetween("max_concurrent", int64(h.MaxConcurrent), 1, 100000)
	if ps.intAtLeast("min_concurrent", int64(h.MinConcurrent), 1) && maxOK && h.MinConcurrent > h.MaxConcurrent {
		ps.add("min_concurrent", fmt.Sprintf("must not exceed max_concurrent (%d), got %d", h.MaxConcurrent, h.MinConcurrent))
	}
	ps.positiveDuration("default_timeout", h.DefaultTimeout)
	ps.positiveDuration("scale_interval", h.ScaleInterval)
	return ps.Err()
}

// Validate checks the section; see [Problems].
func (c *Completion) Validate() error {
	var ps Problems
	ps.intBetween("batch_size", int64(c.BatchSize), 1, 10000)
	ps.durationAtLeast("flush_interval", c.FlushInterval, 0)
	return ps.Err()
}
