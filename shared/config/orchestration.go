package config

import (
	"fmt"
	"time"
)

// DefaultLeaderLockKey is the default PostgreSQL advisory lock key of the
// orchestration leader: the bytes of "tasker" read as a number.
const DefaultLeaderLockKey int64 = 0x7461736b6572

// Orchestration is the [orchestration] section: the orchestration
// service, which creates tasks, enqueues ready steps, processes results,
// retries and finalizes tasks, and serves the REST API.
type Orchestration struct {
	// InstanceID names this instance: in the server's start-up line, as
	// the application_name of its PostgreSQL connections and as the
	// processor_id of the task transitions it writes. Leader election does
	// not use it (the lock is the election). Empty (the default) means
	// "orchestration-<hostname>-<pid>", generated at start-up.
	InstanceID string `toml:"instance_id"`
	// ShutdownTimeout is how long a graceful shutdown waits for in-flight
	// batches to commit before the process exits anyway. Work not committed
	// by then is redone by another instance. Default 5s.
	ShutdownTimeout time.Duration `toml:"shutdown_timeout"`
	// Web is the REST API server.
	Web OrchestrationWeb `toml:"web"`
	// Results tunes the consumer of the orchestration_step_results queue.
	Results ResultConsumer `toml:"results"`
	// Requests tunes the consumer of the orchestration_task_requests queue.
	Requests RequestConsumer `toml:"requests"`
	// ReadinessPoller tunes the fallback loop that finds tasks with ready
	// steps that nothing has enqueued.
	ReadinessPoller ReadinessPoller `toml:"readiness_poller"`
	// Staleness tunes the loop that moves tasks stuck too long to the dead
	// letter queue.
	Staleness Staleness `toml:"staleness"`
	// Reconciler tunes the loop that re-drives tasks left in an active
	// state by a crashed instance.
	Reconciler Reconciler `toml:"reconciler"`
	// Statistics tunes the loop that keeps planner statistics fresh on the
	// hot tables.
	Statistics Statistics `toml:"statistics"`
	// Vacuum tunes the loop that vacuums the queue tables (and tasks) when their
	// dead rows pile up.
	Vacuum Vacuum `toml:"vacuum"`
	// Retention tunes the loop that deletes old finished tasks.
	Retention Retention `toml:"retention"`
	// DeadWorkers tunes the loop that gives the steps of dead worker
	// processes to other workers.
	DeadWorkers DeadWorkers `toml:"dead_workers"`
	// Leader configures the election of the one instance that runs the
	// singleton loops (staleness, reconciler).
	Leader Leader `toml:"leader"`
}

// OrchestrationWeb is the [orchestration.web] section: the REST API
// (/v1/tasks, /health, /metrics, …).
type OrchestrationWeb struct {
	// Enabled starts the HTTP server. Default true.
	Enabled bool `toml:"enabled"`
	// BindAddress is the host:port to listen on; ":8080" (the default)
	// listens on every interface, port 0 picks a free port.
	BindAddress string `toml:"bind_address"`
	// RequestTimeout bounds the handling of one request. Default 30s.
	RequestTimeout time.Duration `toml:"request_timeout"`
	// MaxBodyBytes is the largest request body accepted; larger bodies get
	// 413. Default 1048576 (1 MiB).
	MaxBodyBytes int64 `toml:"max_body_bytes"`
	// Backpressure is admission control for task creation.
	Backpressure Backpressure `toml:"backpressure"`
	// Auth is authentication and authorization (off by default).
	Auth WebAuth `toml:"auth"`
}

// Backpressure is the [orchestration.web.backpressure] section: when the
// queues are too deep, POST /v1/tasks answers 503 with a Retry-After header
// instead of adding more work.
type Backpressure struct {
	// Enabled turns admission control on. Default true.
	Enabled bool `toml:"enabled"`
	// QueueDepthLimit is the most visible messages the task's namespace
	// worker queue or the result queue may hold: above it new tasks are
	// refused. Default 5000 (test 1000).
	QueueDepthLimit int `toml:"queue_depth_limit"`
	// RetryAfter is the Retry-After sent with the 503. Default 30s (test 1s).
	RetryAfter time.Duration `toml:"retry_after"`
}

// Leader is the [orchestration.leader] section. Instances compete for a
// session-level PostgreSQL advisory lock; the holder runs the cluster-wide
// loops (readiness poller, reconciler, staleness detector, statistics
// keeper, dead worker detection). The others wait for the lock inside
// PostgreSQL and take over as soon as the holder's session ends; waiting and
// holding cost no queries.
type Leader struct {
	// LockKey is the advisory lock key (pg_advisory_lock). Change it
	// only to run two independent Tasker installations in one database
	// with separate schemas. Default 127961897067890 (0x7461736b6572).
	LockKey int64 `toml:"lock_key"`
	// RenewInterval is how long an instance waits before it connects again
	// and queues for the lock after its election connection failed (a
	// PostgreSQL restart, a network cut). Default 5s (test 1s).
	RenewInterval time.Duration `toml:"renew_interval"`
}

func defaultOrchestration() Orchestration {
	return Orchestration{
		InstanceID:      "",
		ShutdownTimeout: 5 * time.Second,
		Web: OrchestrationWeb{
			Enabled:        true,
			BindAddress:    ":8080",
			RequestTimeout: 30 * time.Second,
			MaxBodyBytes:   1 << 20,
			Backpressure: Backpressure{
				Enabled:         true,
				QueueDepthLimit: 5000,
				RetryAfter:      30 * time.Second,
			},
			Auth: defaultWebAuth(ContextOrchestration),
		},
		Results:         ResultConsumer{BatchSize: 100, Concurrency: 4, ClaimVisibility: 30 * time.Second},
		Requests:        RequestConsumer{BatchSize: 50, Concurrency: 2},
		ReadinessPoller: ReadinessPoller{Interval: 5 * time.Second, BatchSize: 100, RetryGrace: 30 * time.Second},
		Staleness:       defaultStaleness(),
		Reconciler:      Reconciler{Interval: 30 * time.Second, ActiveStateGrace: time.Minute, BatchSize: 100},
		Statistics:      defaultStatistics(),
		Vacuum:          defaultVacuum(),
		Retention:       defaultRetention(),
		DeadWorkers:     defaultDeadWorkers(),
		Leader:          Leader{LockKey: DefaultLeaderLockKey, RenewInterval: 5 * time.Second},
	}
}

// Validate checks the section; see [Problems].
func (o *Orchestration) Validate() error {
	var ps Problems
	if len(o.InstanceID) > 128 {
		ps.add("instance_id", fmt.Sprintf("must be at most 128 characters, got %d", len(o.InstanceID)))
	}
	ps.positiveDuration("shutdown_timeout", o.ShutdownTimeout)
	ps.nest("web", o.Web.Validate())
	ps.nest("results", o.Results.Validate())
	ps.nest("requests", o.Requests.Validate())
	ps.nest("readiness_poller", o.ReadinessPoller.Validate())
	ps.nest("staleness", o.Staleness.Validate())
	ps.nest("reconciler", o.Reconciler.Validate())
	ps.nest("statistics", o.Statistics.Validate())
	ps.nest("vacuum", o.Vacuum.Validate())
	ps.nest("retention", o.Retention.Validate())
	ps.nest("dead_workers", o.DeadWorkers.Validate())
	ps.nest("leader", o.Leader.Validate())
	return ps.Err()
}

// Validate checks the section; see [Problems]. The address is checked even
// when the server is disabled.
func (w *OrchestrationWeb) Validate() error {
	var ps Problems
	ps.bindAddress("bind_address", w.BindAddress)
	ps.positiveDuration("request_timeout", w.RequestTimeout)
	ps.intBetween("max_body_bytes", w.MaxBodyBytes, 1024, 1<<30)
	ps.nest("backpressure", w.Backpressure.Validate())
	ps.nest("auth", w.Auth.validate([]string{EndpointsHealth, EndpointsMetrics, EndpointsDocs}, []string{EndpointsEvents}))
	return ps.Err()
}

// Validate checks the section; see [Problems].
func (b *Backpressure) Validate() error {
	var ps Problems
	ps.intAtLeast("queue_depth_limit", int64(b.QueueDepthLimit), 1)
	ps.durationAtLeast("retry_after", b.RetryAfter, time.Second)
	return ps.Err()
}

// Validate checks the section; see [Problems].
func (l *Leader) Validate() error {
	var ps Problems
	ps.positiveDuration("renew_interval", l.RenewInterval)
	return ps.Err()
}
