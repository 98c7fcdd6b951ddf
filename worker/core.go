package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/tasker-go/tasker/shared/auth"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/httpcheck"
	"github.com/tasker-go/tasker/shared/listen"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
)

// stepStore is the part of *store.Store the worker uses (a seam for tests).
type stepStore interface {
	RegisterTemplate(ctx context.Context, r store.TemplateRegistration) (store.NamedTask, error)
	ClaimNext(ctx context.Context, c store.Claimer, queue string, n int, vt time.Duration) (store.ClaimOutcome, error)
	CompleteSteps(ctx context.Context, results []store.StepResult) (store.CompleteOutcome, error)
	CompleteAndProcessSteps(ctx context.Context, results []store.StepResult, next *store.Continuation) (store.CompleteOutcome, error)
	ExtendClaims(ctx context.Context, workerID string, steps []uuid.UUID, deadline time.Time) ([]uuid.UUID, error)
	ReleaseClaims(ctx context.Context, workerID string, steps []uuid.UUID, messages map[string][]messaging.Receipt) (int, error)
	SaveCheckpoint(ctx context.Context, workerID string, step uuid.UUID, attempts int, cp store.Checkpoint) (json.RawMessage, error)
	ReleaseOrphanedClaims(ctx context.Context, c store.Claimer, queue string, running []uuid.UUID) (int, error)
	HoldLiveness(ctx context.Context, key int64) (*store.LivenessSession, error)
	RegisterWorker(ctx context.Context, w store.WorkerRegistration) error
	DeregisterWorker(ctx context.Context, lock int64) error
	UpdateWorkerConcurrency(ctx context.Context, lock int64, limit int) error
	Ping(ctx context.Context) error
}

// lifecycle states of a Core.
const (
	stateNew int32 = iota
	stateRunning
	stateStopping
	stateStopped
)

// Core is the worker foundation: it registers the worker's templates, claims
// steps from its namespaces' queues in batches, runs their handlers on a
// bounded pool, keeps their claims alive, and commits their results in
// batches. Create it with New, run it with Start, end it with Stop.
type Core struct {
	opts      Options
	cfg       config.Worker
	log       *slog.Logger
	store     stepStore
	queue     messaging.Driver
	exec      router
	slots     *slots
	flights   *flights
	live      *liveness
	routes    *routes
	metrics   *metrics
	completer *completer
	authn     *auth.Authenticator
	api       http.Handler

	lifecycle sync.Mutex // serialises Start and Stop
	state     atomic.Int32
	startedAt time.Time
	reg       atomic.Pointer[registered] // set by Start

	// runCtx parents every database call and handler; it outlives Stop's
	// graceful phase and is cancelled only when Stop runs out of time.
	runCtx    context.Context
	cancelRun context.CancelFunc
	// liveCtx bounds the liveness loop; cancelled once every claim is
	// settled, which releases the lock.
	liveCtx    context.Context
	cancelLive context.CancelFunc
	liveSess   *store.LivenessSession // taken by setUp, handed to the loop
	// watchCallables, when not nil, closes when the fallback's callables
	// changed (taken by setUp before it reads them; see callablesLoop).
	watchCallables <-chan struct{}

	stopClaims chan struct{} // closed (once, by closeClaims): claim loops return
	claimsOnce sync.Once
	// claimGate orders claims made outside the claim loops (the
	// completer's continuation) with closeClaims: such a claim holds it for
	// reading until its handlers are dispatched, so once closeClaims has
	// closed stopClaims no handler is added.
	claimGate  sync.RWMutex
	claimLoops sync.WaitGroup // claim loops
	handlers   sync.WaitGroup // handler runs
	stopBG     chan struct{}  // closed: heartbeat and scaler return
	bg         sync.WaitGroup // heartbeat and scaler
	server     *http.Server
	serverDone chan struct{}

	stats struct {
		claimed, recorded, processed, stale, released, lost, batches atomic.Int64
		// events counts the domain events handlers published with their
		// results, by delivery mode.
		eventsDurable, eventsFast, eventsBroadcast atomic.Uint64
	}
	stopErr error
}

// New checks opts and builds a Core. It does no network or database I/O;
// with worker.web.auth enabled it reads the JWT public key file.
func New(opts Options) (*Core, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	limit := opts.Config.Handlers.MaxConcurrent
	if opts.Config.Handlers.Adaptive {
		limit = opts.Config.Handlers.MinConcurrent
	}
	sl := newSlots(limit)
	ceiling := opts.Config.Handlers.MaxConcurrent
	m, err := newMetrics(opts.Registerer, opts.Config.WorkerID, func() float64 { return sl.saturation(ceiling) })
	if err != nil {
		return nil, err
	}
	c := &Core{
		opts:       opts,
		cfg:        opts.Config,
		log:        opts.Logger.With("component", "worker", "worker_id", opts.Config.WorkerID),
		store:      opts.Store,
		queue:      opts.Queue,
		exec:       router{reg: opts.Registry, fallback: opts.Fallback},
		slots:      sl,
		flights:    newFlights(),
		live:       newLiveness(),
		routes:     newRoutes(),
		metrics:    m,
		stopClaims: make(chan struct{}),
		stopBG:     make(chan struct{}),
	}
	c.completer = newCompleter(c)
	c.metrics.concurrency.Set(float64(limit))
	c.authn, err = auth.New(auth.Options{Config: opts.Config.Web.Auth, Logger: c.log,
		OnFailure:     func(route, reason string) { m.authFailures.WithLabelValues(route, reason).Inc() },
		AllowNoSource: !opts.Config.Web.Enabled})
	if err != nil {
		return nil, fmt.Errorf("worker: worker.web.auth: %w", err)
	}
	c.api = c.newRouter()
	return c, nil
}

// registered is what Start registered and consumes.
type registered struct {
	namespaces []string
	// callables are the callables the worker claims (nil: every step of
	// its namespaces, see CallableSet).
	callables []string
	templates []*template.Template
	byKey     map[string]*template.Template // by Template.Key
	at        time.Time                     // when Start registered them

	// defs are the templates' steps as step events carry them
	// (step_definition), encoded once.
	defs map[*template.Step]json.RawMessage
}

func (c *Core) registered() registered {
	if r := c.reg.Load(); r != nil {
		return *r
	}
	return registered{}
}

// WorkerID is the id this worker claims steps under.
func (c *Core) WorkerID() string { return c.cfg.WorkerID }

// Namespaces are the namespaces whose queues the worker consumes (known
// after Start).
func (c *Core) Namespaces() []string { return append([]string(nil), c.registered().namespaces...) }

// Templates are the templates the worker registered (known after Start).
func (c *Core) Templates() []*template.Template {
	return append([]*template.Template(nil), c.registered().templates...)
}

// Start registers the templates, ensures the queues and starts the claim
// loops, completer, heartbeat, scaler and (when enabled) the HTTP server.
// ctx bounds start-up only: the worker then runs until Stop.
func (c *Core) Start(ctx context.Context) error {
	c.lifecycle.Lock()
	defer c.lifecycle.Unlock()
	if c.state.Load() != stateNew {
		return errors.New("worker: Start called twice (or after Stop)")
	}
	c.runCtx, c.cancelRun = context.WithCancel(context.WithoutCancel(ctx))
	c.liveCtx, c.cancelLive = context.WithCancel(c.runCtx)
	if err := c.setUp(ctx); err != nil {
		if c.liveSess != nil {
			c.closeLiveness(c.liveSess)
		}
		c.cancelLive()
		c.cancelRun()
		c.state.Store(stateStopped)
		return err
	}
	c.startedAt = time.Now()
	c.bg.Add(1)
	go c.livenessLoop(c.liveSess)
	c.bg.Add(1)
	go c.completer.run()
	c.bg.Add(1)
	go c.heartbeatLoop()
	if c.cfg.Handlers.Adaptive {
		c.bg.Add(1)
		go c.scaleLoop()
	}
	if c.watchCallables != nil {
		c.bg.Add(1)
		go c.callablesLoop(router{fallback: c.opts.Fallback}.watcher(), c.watchCallables)
	}
	reg := c.registered()
	for _, ns := range reg.namespaces {
		c.claimLoops.Add(1)
		go c.claimLoop(ns)
	}
	c.state.Store(stateRunning)
	limit, _ := c.slots.snapshot()
	c.log.Info("worker started", "namespaces", reg.namespaces, "templates", len(reg.templates),
		"callables", callablesLog(reg.callables), "concurrency", limit, "liveness_lock", c.live.key)
	return nil
}

// setUp does Start's I/O: templates, queues, the HTTP listener.
func (c *Core) setUp(ctx context.Context) error {
	tpls, err := c.loadTemplates()
	if err != nil {
		return err
	}
	if err := c.registerTemplates(ctx, tpls); err != nil {
		return err
	}
	namespaces := namespacesOf(c.cfg.Namespaces, tpls)
	if len(namespaces) == 0 {
		return errors.New("worker: no namespaces to consume: put templates on templates.search_paths (or TASKER_TEMPLATE_PATH), pass them in Options.ExtraTemplates, or set worker.namespaces")
	}
	for _, q := range append(queuesOf(namespaces), messaging.StepResultsQueue) {
		if err := c.queue.Ensure(ctx, q); err != nil {
			return fmt.Errorf("worker: %w", err)
		}
	}
	r := router{reg: c.opts.Registry, fallback: c.opts.Fallback}
	if w := r.watcher(); w != nil {
		// Watch before reading: a change in between is not lost.
		c.watchCallables = w.CallablesChanged()
	}
	callables := r.served()
	for _, t := range tpls {
		if !slices.Contains(namespaces, t.NamespaceName) {
			continue
		}
		for _, s := range t.Steps {
			if callables != nil && !slices.Contains(callables, s.Handler.Callable) {
				c.log.Info("no handler for template step here; its steps are left to workers that have it",
					"template", t.Key(), "step", s.Name, "callable", s.Handler.Callable)
			}
		}
	}
	if callables != nil && len(callables) == 0 {
		c.log.Warn("the worker has no handlers: it claims nothing")
	}
	if c.liveSess, err = c.takeLiveness(ctx); err != nil {
		return err
	}
	c.reg.Store(&registered{namespaces: namespaces, callables: callables})
	if err := c.register(ctx); err != nil {
		return err
	}
	byKey := make(map[string]*template.Template, len(tpls))
	for _, t := range tpls {
		byKey[t.Key()] = t
	}
	c.reg.Store(&registered{namespaces: namespaces, callables: callables, templates: tpls, byKey: byKey,
		defs: stepDefinitions(tpls), at: time.Now().UTC()})
	if c.cfg.Web.Enabled {
		ln, err := listen.TCP(ctx, c.cfg.Web.BindAddress, "worker.web.bind_address")
		if err != nil {
			return fmt.Errorf("worker: web server: %w", err)
		}
		c.server = &http.Server{Handler: c.api, ReadHeaderTimeout: 10 * time.Second,
			MaxHeaderBytes: httpcheck.ServerMaxHeaderBytes} // above the API's own limit: see Handler
		c.serverDone = make(chan struct{})
		go func() {
			defer close(c.serverDone)
			if err := c.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				c.log.Error("web server stopped", "err", err)
			}
		}()
		c.log.Info("worker web server listening", "addr", ln.Addr().String())
	}
	return nil
}

// Stop shuts the worker down gracefully: it stops claiming, lets running
// handlers finish for up to worker.shutdown_grace (less when ctx ends
// sooner), cancels the rest and releases their steps for another worker
// (their attempt does not count), commits every result it holds, and stops
// its loops. Calling Stop again returns the first call's result.
func (c *Core) Stop(ctx context.Context) error {
	c.lifecycle.Lock()
	defer c.lifecycle.Unlock()
	switch c.state.Load() {
	case stateNew:
		c.state.Store(stateStopped)
		c.authn.Close()
		return nil
	case stateStopped:
		return c.stopErr
	}
	c.stopErr = c.stop(ctx)
	c.authn.Close()
	return c.stopErr
}

// stopReserve is the part of Stop's deadline kept for releasing claims and
// committing results after the grace period.
const stopReserve = 500 * time.Millisecond

// BeginShutdown stops claiming new steps. Handlers already running go on
// and their results are committed; Stop finishes the shutdown. It does
// nothing unless the worker is running.
func (c *Core) BeginShutdown() {
	if c.state.CompareAndSwap(stateRunning, stateStopping) {
		c.closeClaims()
		c.log.Info("shutdown begun: no new claims")
	}
}

func (c *Core) closeClaims() {
	c.claimsOnce.Do(func() {
		c.claimGate.Lock()
		defer c.claimGate.Unlock()
		close(c.stopClaims)
	})
}

func (c *Core) stop(ctx context.Context) error {
	c.state.Store(stateStopping)
	began := time.Now()
	c.closeClaims()
	c.waitOrAbort(ctx, &c.claimLoops)

	grace := c.cfg.ShutdownGrace
	if dl, ok := ctx.Deadline(); ok {
		grace = min(grace, time.Until(dl)-stopReserve)
	}
	if !waitTimeout(&c.handlers, grace) {
		running, _ := c.flights.counts()
		c.log.Warn("shutdown grace over; releasing unfinished steps", "running", running, "grace", grace)
		c.flights.cancelRunning(ErrShuttingDown)
		c.handlers.Wait() // runs return as soon as their context ends
	}
	var errs []error
	if err := c.releaseAll(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := c.completer.flush(ctx); err != nil {
		errs = append(errs, err)
	}
	close(c.stopBG)
	c.deregister(ctx)
	c.cancelLive() // every claim is settled: release the liveness lock
	c.waitOrAbort(ctx, &c.bg)
	if c.server != nil {
		if err := c.server.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stopping web server: %w", err))
			_ = c.server.Close()
		}
		<-c.serverDone
	}
	c.cancelRun()
	c.state.Store(stateStopped)
	c.log.Info("worker stopped", "took", time.Since(began).Round(time.Millisecond))
	return errors.Join(errs...)
}

// releaseAll gives back the steps whose handlers were cancelled by Stop.
func (c *Core) releaseAll(ctx context.Context) error {
	fs := c.flights.take(phaseReleasing)
	if len(fs) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(fs))
	byQueue := map[string][]messaging.Receipt{}
	for i, f := range fs {
		ids[i] = f.step.Step.UUID
		byQueue[f.queue] = append(byQueue[f.queue], messaging.Receipt{ID: f.step.MessageID, ReadCount: f.step.ReadCount})
	}
	// One unit of work: the steps go back to enqueued and their messages
	// become visible together (a shutdown short of time once released the
	// steps and then ran out of it before the messages).
	n, err := c.store.ReleaseClaims(ctx, c.cfg.WorkerID, ids, byQueue)
	if err != nil {
		return fmt.Errorf("releasing %d unfinished steps: %w", len(ids), err)
	}
	c.stats.released.Add(int64(n))
	c.metrics.released.Add(float64(n))
	c.log.Info("released unfinished steps", "steps", n)
	return nil
}

// waitOrAbort waits for wg; if ctx ends first it cancels the run context,
// which aborts the database calls the loops are blocked in, and waits for
// them to return.
func (c *Core) waitOrAbort(ctx context.Context, wg *sync.WaitGroup) {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		c.cancelRun()
		<-done
	}
}

// waitTimeout waits for wg for at most d; it reports whether wg finished.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	if d <= 0 {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// Stats is a snapshot of what the worker is doing and has done.
type Stats struct {
	WorkerID   string   `json:"worker_id"`
	Namespaces []string `json:"namespaces"`
	// Running counts handlers running now; Completing counts results
	// waiting for their commit.
	Running    int `json:"running"`
	Completing int `json:"completing"`
	// ConcurrencyLimit is the current handler limit; ConcurrencyInUse the
	// slots taken.
	ConcurrencyLimit int `json:"concurrency_limit"`
	ConcurrencyInUse int `json:"concurrency_in_use"`
	// Claimed, Recorded, Stale, Released and Lost count steps since Start.
	Claimed  int64 `json:"claimed"`
	Recorded int64 `json:"recorded"`
	Stale    int64 `json:"stale"`
	Released int64 `json:"released"`
	Lost     int64 `json:"lost"`
	// CompletionBatches counts result transactions committed.
	CompletionBatches int64 `json:"completion_batches"`
}

// Stats returns a snapshot of the worker's activity.
func (c *Core) Stats() Stats {
	running, completing := c.flights.counts()
	limit, inUse := c.slots.snapshot()
	return Stats{
		WorkerID: c.cfg.WorkerID, Namespaces: c.Namespaces(),
		Running: running, Completing: completing,
		ConcurrencyLimit: limit, ConcurrencyInUse: inUse,
		Claimed: c.stats.claimed.Load(), Recorded: c.stats.recorded.Load(), Stale: c.stats.stale.Load(),
		Released: c.stats.released.Load(), Lost: c.stats.lost.Load(), CompletionBatches: c.stats.batches.Load(),
	}
}

// opCtx bounds one database operation of a background loop.
func (c *Core) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.runCtx, c.cfg.Claims.VisibilityTimeout)
}

// sleep waits d or until stop closes; it reports whether stop closed.
func sleep(stop <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-stop:
		return true
	case <-t.C:
		return false
	}
}
