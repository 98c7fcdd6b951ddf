package orchestration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/domainevent"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/pgnotify"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/telemetry"
)

// Options configure a Core.
type Options struct {
	// Store and Queue are required; the store must send through Queue.
	Store *store.Store
	Queue messaging.Driver
	// ConnConfig is used for the leader-election connection. Required.
	ConnConfig *pgx.ConnConfig
	// Config, Backoff and Queues are the typed configuration sections
	// (config.Default("orchestration") has sensible values).
	Config  config.Orchestration
	Backoff config.Backoff
	Queues  config.Queues
	// TemplateCacheTTL is how long a loaded template is reused (default 10s).
	TemplateCacheTTL time.Duration
	Logger           *slog.Logger
	// Registerer receives the service's metrics (nil: not registered).
	Registerer prometheus.Registerer
	// Listener, when set, wakes dead worker detection when work is seen
	// (task events); without it the detection checks every
	// dead_workers.idle_interval while nothing is in progress.
	Listener *pgnotify.Listener
	// EventBus, when set, receives the fast domain events of the results
	// orchestration commits, after the commit (in-process subscribers).
	EventBus *domainevent.Bus
	// Tracer records the spans of task creation; nil (tracing off) records
	// nothing.
	Tracer *telemetry.Tracer
}

// Core is the orchestration service (the seed's OrchestrationCore).
type Core struct {
	store     *store.Store
	queue     messaging.Driver
	cfg       config.Orchestration
	backoff   config.Backoff
	queues    config.Queues
	log       *slog.Logger
	tracer    *telemetry.Tracer
	metrics   *metrics
	templates *templateCache
	parsed    parsedTemplates
	leader    *leader
	activity  *activity
	eventBus  *domainevent.Bus
	events    *domainevent.Metrics

	results, requests *consumer
	loops             []*loop
	deadWorkers       *deadWorkerDetector

	depthMu sync.Mutex
	depths  map[string]depthReading

	startMu sync.Mutex
	started bool
}

type depthReading struct {
	visible int64
	at      time.Time
}

// component is the start/stop shape every long-running part shares.
type component interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// New builds a Core. Nothing runs until Start.
func New(opts Options) (*Core, error) {
	if opts.Store == nil || opts.Queue == nil || opts.ConnConfig == nil {
		return nil, errors.New("orchestration: Store, Queue and ConnConfig are required")
	}
	if err := opts.Config.Validate(); err != nil {
		return nil, fmt.Errorf("orchestration config: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.TemplateCacheTTL <= 0 {
		opts.TemplateCacheTTL = 10 * time.Second
	}
	if opts.Backoff.RetryAfterCap <= 0 {
		opts.Backoff.RetryAfterCap = 5 * time.Minute
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("orchestration: %w", err)
	}
	em, err := domainevent.NewMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("orchestration: %w", err)
	}
	c := &Core{
		store: opts.Store, queue: opts.Queue, cfg: opts.Config, backoff: opts.Backoff, queues: opts.Queues,
		log: opts.Logger, tracer: opts.Tracer, metrics: m,
		templates: newTemplateCache(opts.Store, opts.TemplateCacheTTL),
		depths:    map[string]depthReading{},
		activity:  &activity{},
		eventBus:  opts.EventBus, events: em,
	}
	c.leader = newLeader(opts.ConnConfig, leaderKey(opts.Config.Leader.LockKey, opts.ConnConfig), opts.Config.Leader.RenewInterval, c.log)
	// The consumers have no poll of their own: the queue's wake-ups include
	// its fallback poll (queues.poll_interval), one for every queue of the
	// process. The result consumer claims inside the unit of work that
	// processes the results (store.ProcessNextResults).
	c.results = newConsumer(consumerConfig{
		Queue: messaging.StepResultsQueue, BatchSize: opts.Config.Results.BatchSize,
		Concurrency: opts.Config.Results.Concurrency, Visibility: opts.Config.Results.ClaimVisibility,
	}, opts.Queue, nil, c.log)
	c.results.onWake = c.activity.fire
	c.results.claimHandle = c.processNextResults
	c.requests = newConsumer(consumerConfig{
		Queue: messaging.TaskRequestsQueue, BatchSize: opts.Config.Requests.BatchSize,
		Concurrency: opts.Config.Requests.Concurrency, Visibility: opts.Queues.VisibilityTimeout,
	}, opts.Queue, c.processRequests, c.log)
	c.requests.onWake = c.activity.fire
	c.loops = []*loop{
		c.readinessPoller(opts.Config.ReadinessPoller, opts.Queues.VisibilityTimeout),
		c.reconciler(opts.Config.Reconciler),
		c.stalenessDetector(opts.Config.Staleness),
		c.statisticsKeeper(opts.Config.Statistics),
		c.tableVacuum(opts.Config.Vacuum),
		c.retention(opts.Config.Retention),
	}
	c.deadWorkers = c.deadWorkerDetector(opts.Config.DeadWorkers, opts.Listener)
	return c, nil
}

// Store is the store Core works through (for the REST layer's reads).
func (c *Core) Store() *store.Store { return c.store }

// Queue is the queue Core works through.
func (c *Core) Queue() messaging.Driver { return c.queue }

// IsLeader reports whether this instance runs the cluster-wide loops.
func (c *Core) IsLeader() bool { return c.leader.IsLeader() }

func (c *Core) components() []component {
	out := []component{c.leader, c.results, c.requests}
	for _, l := range c.loops {
		out = append(out, l)
	}
	return append(out, c.deadWorkers)
}

// Start starts the consumers, the leader election and the loops.
func (c *Core) Start(ctx context.Context) error {
	c.startMu.Lock()
	defer c.startMu.Unlock()
	if c.started {
		return errors.New("orchestration: already started")
	}
	for _, q := range []string{messaging.StepResultsQueue, messaging.TaskRequestsQueue} {
		if err := c.queue.Ensure(ctx, q); err != nil {
			return fmt.Errorf("ensuring queue %s: %w", q, err)
		}
	}
	var started []component
	for _, comp := range c.components() {
		if err := comp.Start(ctx); err != nil {
			for i := len(started) - 1; i >= 0; i-- {
				_ = started[i].Stop(ctx)
			}
			return err
		}
		started = append(started, comp)
	}
	c.started = true
	c.warnAboutVacuum(ctx)
	c.log.Info("orchestration started")
	return nil
}

// Stop stops taking work, finishes in-flight batches and stops the loops,
// within ctx (callers bound it by the configured shutdown timeout).
func (c *Core) Stop(ctx context.Context) error {
	c.startMu.Lock()
	defer c.startMu.Unlock()
	if !c.started {
		return nil
	}
	c.started = false
	comps := c.components()
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, comp := range comps {
		wg.Go(func() {
			if err := comp.Stop(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	c.log.Info("orchestration stopped")
	return errors.Join(errs...)
}

// RunMaintenance runs the readiness poller, reconciler and staleness
// detector once now, leader or not (operators and tests).
func (c *Core) RunMaintenance(ctx context.Context) {
	for _, l := range c.loops {
		l.RunOnce(ctx)
	}
}

// CreateTask validates a request, instantiates its template and commits the
// task with its first steps enqueued, in one transaction. It returns the
// task with its steps and their readiness as committed, so callers need not
// read them back.
func (c *Core) CreateTask(ctx context.Context, req TaskRequest) (store.CreatedTask, error) {
	if err := req.validate(); err != nil {
		return store.CreatedTask{}, err
	}
	ct, err := c.templates.get(ctx, req.Namespace, req.Name, req.Version)
	if err != nil {
		return store.CreatedTask{}, err
	}
	if err := c.checkBackpressure(ctx, ct.named.Namespace); err != nil {
		return store.CreatedTask{}, err
	}
	taskCtx := req.Context
	if len(taskCtx) == 0 || string(taskCtx) == "null" {
		taskCtx = json.RawMessage(`{}`)
	}
	if ct.tpl.InputSchema != nil {
		if ct.schemaErr != nil {
			return store.CreatedTask{}, fmt.Errorf("template %s has an input_schema that does not compile: %w", ct.tpl.Key(), ct.schemaErr)
		}
		var v any
		if err := json.Unmarshal(taskCtx, &v); err != nil {
			return store.CreatedTask{}, &ValidationError{Errors: []FieldError{{"/context", "is not valid JSON"}}}
		}
		if errs := ct.tpl.ValidateContext(v); len(errs) > 0 {
			ve := &ValidationError{}
			for _, e := range errs {
				ve.add("/context"+e.Pointer, "%s", e.Message)
			}
			return store.CreatedTask{}, ve
		}
	}
	hash, err := identityHash(string(ct.tpl.IdentityStrategy), ct.named.UUID, taskCtx, req.IdentityKey)
	if err != nil {
		return store.CreatedTask{}, err
	}
	nt := c.buildTask(ct, req, taskCtx, hash)
	var span trace.Span
	if c.tracer != nil {
		ctx, span = c.startCreateSpan(ctx, &nt)
		defer span.End()
	}
	out, err := c.store.CreateTask(ctx, nt)
	if err != nil {
		if span != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		return store.CreatedTask{}, err
	}
	if span != nil {
		c.traceCreated(ctx, span, out)
	}
	c.activity.fire()
	c.metrics.tasksCreated.WithLabelValues(out.Task.Namespace).Inc()
	c.observeOutcomes([]store.TaskOutcome{out.Outcome})
	return out, nil
}

// buildTask turns a template's initial step set into rows to insert.
func (c *Core) buildTask(ct *cachedTemplate, req TaskRequest, taskCtx json.RawMessage, hash string) store.NewTask {
	nt := store.NewTask{
		UUID: uuid.Must(uuid.NewV7()), NamedTaskUUID: ct.named.UUID, Namespace: ct.named.Namespace,
		Context: taskCtx, IdentityHash: hash, Initiator: req.Initiator, SourceSystem: req.SourceSystem,
		Reason: req.Reason, Tags: req.Tags, ParentCorrelationID: req.ParentCorrelationID,
	}
	if req.Priority != nil {
		nt.Priority = *req.Priority
	}
	if req.CorrelationID != nil {
		nt.CorrelationID = *req.CorrelationID
	}
	if req.RequestedAt != nil {
		nt.RequestedAt = *req.RequestedAt
	}
	ids := make(map[string]uuid.UUID, len(ct.initial))
	for _, s := range ct.initial {
		ids[s.Name] = uuid.Must(uuid.NewV7())
	}
	for _, s := range ct.initial {
		ns, _ := newStepOf(s) // initialization came from JSON: it encodes
		ns.UUID, ns.NamedStepUUID = ids[s.Name], ct.stepIDs[s.Name]
		nt.Steps = append(nt.Steps, ns)
		for _, d := range s.Dependencies {
			if from, ok := ids[d]; ok {
				nt.Edges = append(nt.Edges, store.NewEdge{From: from, To: ids[s.Name]})
			}
		}
	}
	return nt
}

// checkBackpressure refuses new tasks while the namespace's worker queue or
// the result queue holds more visible messages than the configured limit.
// Depths are sampled at most once a second per queue.
func (c *Core) checkBackpressure(ctx context.Context, namespace string) error {
	bp := c.cfg.Web.Backpressure
	if !bp.Enabled || bp.QueueDepthLimit <= 0 {
		return nil
	}
	for _, q := range []string{messaging.WorkerQueue(namespace), messaging.StepResultsQueue} {
		depth, err := c.visibleDepth(ctx, q)
		if err != nil {
			c.log.Warn("reading queue depth for backpressure", "queue", q, "err", err)
			continue
		}
		if depth > int64(bp.QueueDepthLimit) {
			return fmt.Errorf("queue %s holds %d waiting messages (limit %d): %w", q, depth, bp.QueueDepthLimit, ErrBackpressure)
		}
	}
	return nil
}

func (c *Core) visibleDepth(ctx context.Context, q string) (int64, error) {
	c.depthMu.Lock()
	r, ok := c.depths[q]
	c.depthMu.Unlock()
	if ok && time.Since(r.at) < time.Second {
		return r.visible, nil
	}
	st, err := c.queue.Stats(ctx, q)
	if err != nil {
		return 0, err
	}
	c.depthMu.Lock()
	c.depths[q] = depthReading{visible: st.Visible, at: time.Now()}
	c.depthMu.Unlock()
	return st.Visible, nil
}

// CancelTask cancels a task and its unfinished steps (ErrInvalidState when
// it already finished).
func (c *Core) CancelTask(ctx context.Context, id uuid.UUID, reason string) (store.Task, error) {
	start := time.Now()
	t, err := c.store.CancelTask(ctx, id, reason)
	if err != nil {
		return store.Task{}, err
	}
	c.traceEndedBy(ctx, t, state.TaskEventCancel, reason, start)
	c.activity.fire()
	c.observeOutcomes([]store.TaskOutcome{{TaskUUID: t.UUID, From: state.TaskStepsInProcess, To: t.State,
		CreatedAt: t.CreatedAt, FinishedAt: time.Now()}})
	return t, nil
}

// ApplyStepAction applies an operator's fix to a step and re-drives the
// task at once.
func (c *Core) ApplyStepAction(ctx context.Context, task, step uuid.UUID, a store.StepAction) (store.StepReadiness, error) {
	start := time.Now()
	sr, outcomes, err := c.store.ApplyStepAction(ctx, task, step, a)
	if err != nil {
		return store.StepReadiness{}, err
	}
	for _, o := range outcomes {
		if o.To.Terminal() && o.From != o.To {
			c.traceEndedBy(ctx, store.Task{UUID: o.TaskUUID, State: o.To, CreatedAt: o.CreatedAt, TraceParent: o.TraceParent},
				state.TaskEvent(a.Kind), a.Reason, start, telemetry.AttrStepUUID.String(step.String()))
		}
	}
	c.activity.fire()
	c.observeOutcomes(outcomes)
	return sr, nil
}

// leaderKey scopes the advisory lock key to the schema: advisory locks are
// per database, and installations in separate schemas of one database must
// elect their leaders independently.
func leaderKey(base int64, cc *pgx.ConnConfig) int64 {
	schema := cc.RuntimeParams["search_path"]
	if schema == "" {
		return base
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(schema)) // a hash.Hash never fails to write
	return base ^ int64(h.Sum64()>>1)
}
