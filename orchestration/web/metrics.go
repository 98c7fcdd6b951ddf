package web

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/store"
)

// statsTTL is how long state counts and queue statistics are reused
// between scrapes (counting is a query per scrape otherwise).
const statsTTL = 5 * time.Second

// serverMetrics holds this package's series in a registry of its own, so a
// server can be built twice against one Core registry, and serves both.
type serverMetrics struct {
	s        *Server
	own      *prometheus.Registry
	handler  http.Handler
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	authFail *prometheus.CounterVec

	mu   sync.Mutex
	snap statsSnapshot
}

type statsSnapshot struct {
	at       time.Time
	counts   store.StateCounts
	queues   []messaging.Stats
	unserved []store.UnservedSteps
	ok       bool
}

func newServerMetrics(s *Server, core *prometheus.Registry) *serverMetrics {
	m := &serverMetrics{s: s, own: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tasker_http_requests_total", Help: "REST API requests, by method, route and status.",
	}, []string{"method", "route", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "tasker_http_request_duration_seconds", Help: "REST API request latency, by method and route.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	}, []string{"method", "route"})
	m.authFail = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tasker_auth_failures_total",
		Help: "REST API requests refused by authentication (401) or authorization (403), by route and reason.",
	}, []string{"route", "reason"})
	m.own.MustRegister(m.requests, m.latency, m.authFail, &scrapeCollector{m: m})
	var g prometheus.Gatherer = m.own
	if core != nil {
		g = prometheus.Gatherers{core, m.own}
	}
	m.handler = promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return m
}

func (m *serverMetrics) observeRequest(method, route string, status int, d time.Duration) {
	if route == "/v1/tasks/{uuid}/events" {
		return // a stream's duration is its lifetime, not a latency
	}
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(method, route).Observe(d.Seconds())
}

// authFailure counts a refused request.
func (m *serverMetrics) authFailure(route, reason string) {
	m.authFail.WithLabelValues(route, reason).Inc()
}

// refresh re-reads state counts and queue statistics when the cached ones
// are older than statsTTL. Concurrent scrapes wait for one refresh.
func (m *serverMetrics) refresh(ctx context.Context) statsSnapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.snap.ok && time.Since(m.snap.at) < statsTTL {
		return m.snap
	}
	counts, err := m.s.store.CountStates(ctx)
	if err != nil {
		m.s.log.Warn("metrics: counting states", "err", err)
		return statsSnapshot{}
	}
	queues, err := m.s.queueStats(ctx)
	if err != nil {
		m.s.log.Warn("metrics: reading queue statistics", "err", err)
		return statsSnapshot{}
	}
	unserved, err := m.s.store.UnservedSteps(ctx)
	if err != nil {
		// The other series stand; tasker_unserved_steps is left out.
		m.s.log.Warn("metrics: counting unserved steps", "err", err)
	}
	m.snap = statsSnapshot{at: time.Now(), counts: counts, queues: queues, unserved: unserved, ok: true}
	return m.snap
}

func (m *serverMetrics) current() statsSnapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.snap
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	s.metrics.refresh(ctx)
	s.metrics.handler.ServeHTTP(w, r)
}

// queueStats reads the orchestration queues and every namespace's worker
// queue.
func (s *Server) queueStats(ctx context.Context) ([]messaging.Stats, error) {
	nss, err := s.store.ListNamespaces(ctx)
	if err != nil {
		return nil, err
	}
	names := []string{messaging.StepResultsQueue, messaging.TaskRequestsQueue}
	for _, ns := range nss {
		names = append(names, messaging.WorkerQueue(ns.Name))
	}
	out := make([]messaging.Stats, 0, len(names))
	for _, q := range names {
		st, err := s.core.Queue().Stats(ctx, q)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

var (
	descTasks = prometheus.NewDesc("tasker_tasks", "Tasks by current state.", []string{"state"}, nil)
	descSteps = prometheus.NewDesc("tasker_steps", "Workflow steps by current state.", []string{"state"}, nil)
	descDepth = prometheus.NewDesc("tasker_queue_depth", "Messages in a queue, visible or not.", []string{"queue"}, nil)
	descVis   = prometheus.NewDesc("tasker_queue_visible_messages", "Messages in a queue that can be claimed now.", []string{"queue"}, nil)
	descAge   = prometheus.NewDesc("tasker_queue_oldest_message_age_seconds", "Age of the oldest message in a queue.", []string{"queue"}, nil)
	descConns = prometheus.NewDesc("tasker_db_pool_connections", "Database pool connections by state (acquired, idle, constructing, total, max).", []string{"state"}, nil)
	descAcq   = prometheus.NewDesc("tasker_db_pool_acquires_total", "Connections acquired from the pool.", nil, nil)
	descEmpty = prometheus.NewDesc("tasker_db_pool_empty_acquires_total", "Acquires that had to wait for a connection.", nil, nil)
	descCanc  = prometheus.NewDesc("tasker_db_pool_canceled_acquires_total", "Acquires cancelled before a connection was free.", nil, nil)
	descWait  = prometheus.NewDesc("tasker_db_pool_acquire_wait_seconds_total", "Time spent acquiring connections.", nil, nil)
	descLead  = prometheus.NewDesc("tasker_orchestration_leader", "1 when this instance runs the cluster-wide loops.", nil, nil)
	descUnsrv = prometheus.NewDesc("tasker_unserved_steps",
		"Steps waiting in a worker queue whose handler callable no live worker of their namespace serves (only those with any).",
		[]string{"namespace", "callable"}, nil)
)

// scrapeCollector reports the values read at scrape time. It does no I/O
// itself: serveMetrics refreshes the snapshot first.
type scrapeCollector struct{ m *serverMetrics }

func (c *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTasks, descSteps, descDepth, descVis, descAge, descConns, descAcq,
		descEmpty, descCanc, descWait, descLead, descUnsrv} {
		ch <- d
	}
}

func (c *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	snap := c.m.current()
	if snap.ok {
		for _, st := range state.TaskStates {
			ch <- prometheus.MustNewConstMetric(descTasks, prometheus.GaugeValue, float64(snap.counts.Tasks[st]), string(st))
		}
		for _, st := range state.StepStates {
			ch <- prometheus.MustNewConstMetric(descSteps, prometheus.GaugeValue, float64(snap.counts.Steps[st]), string(st))
		}
		for _, q := range snap.queues {
			ch <- prometheus.MustNewConstMetric(descDepth, prometheus.GaugeValue, float64(q.Depth), q.Queue)
			ch <- prometheus.MustNewConstMetric(descVis, prometheus.GaugeValue, float64(q.Visible), q.Queue)
			ch <- prometheus.MustNewConstMetric(descAge, prometheus.GaugeValue, q.OldestAge.Seconds(), q.Queue)
		}
		for _, u := range snap.unserved {
			ch <- prometheus.MustNewConstMetric(descUnsrv, prometheus.GaugeValue, float64(u.Steps), u.Namespace, u.Callable)
		}
	}
	ps := c.m.s.store.Pool().Stat()
	for name, v := range map[string]int32{
		"acquired": ps.AcquiredConns(), "idle": ps.IdleConns(), "constructing": ps.ConstructingConns(),
		"total": ps.TotalConns(), "max": ps.MaxConns(),
	} {
		ch <- prometheus.MustNewConstMetric(descConns, prometheus.GaugeValue, float64(v), name)
	}
	ch <- prometheus.MustNewConstMetric(descAcq, prometheus.CounterValue, float64(ps.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(descEmpty, prometheus.CounterValue, float64(ps.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(descCanc, prometheus.CounterValue, float64(ps.CanceledAcquireCount()))
	ch <- prometheus.MustNewConstMetric(descWait, prometheus.CounterValue, ps.AcquireDuration().Seconds())
	leader := 0.0
	if c.m.s.core.IsLeader() {
		leader = 1
	}
	ch <- prometheus.MustNewConstMetric(descLead, prometheus.GaugeValue, leader)
}

// MetricCollectors returns new, unregistered collectors of every series the
// REST layer exports (request counters and the values read at scrape time),
// so deployment checks can verify that dashboards and alerting rules name
// only series (and labels) that exist. They are for Describe only.
func MetricCollectors() []prometheus.Collector {
	m := newServerMetrics(nil, nil)
	return []prometheus.Collector{m.requests, m.latency, m.authFail, &scrapeCollector{m: m}}
}
