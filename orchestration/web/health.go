package web

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tasker-go/tasker/api"
)

// How long a readiness check waits for the database.
const pingTimeout = 2 * time.Second

// Health statuses.
const (
	statusHealthy      = "healthy"
	statusDegraded     = "degraded"
	statusUnhealthy    = "unhealthy"
	statusShuttingDown = "shutting_down"
)

type healthOutput struct {
	Status int
	Body   api.HealthResponse
}

type detailedHealthOutput struct {
	Status int
	Body   api.DetailedHealthResponse
}

func (s *Server) healthRoutes() {
	tags := []string{"health"}
	register(s, huma.Operation{
		OperationID: "health", Method: http.MethodGet, Path: "/health", Tags: tags,
		Summary: "Basic health: 200 while serving, 503 while shutting down",
	}, []int{503}, s.health)
	register(s, huma.Operation{
		OperationID: "liveness", Method: http.MethodGet, Path: "/health/live", Tags: tags,
		Summary: "Liveness: 200 while the process runs",
	}, nil, s.liveness)
	register(s, huma.Operation{
		OperationID: "readiness", Method: http.MethodGet, Path: "/health/ready", Tags: tags,
		Summary: "Readiness: 200 when the database answers, 503 otherwise or while shutting down",
	}, []int{503}, s.readiness)
	register(s, huma.Operation{
		OperationID: "detailedHealth", Method: http.MethodGet, Path: "/health/detailed", Tags: tags,
		Summary: "Database, pool, queue depths and ages, leadership; 503 when the database is unreachable",
	}, []int{503}, s.detailedHealth)
}

func (s *Server) healthBody(status string) api.HealthResponse {
	return api.HealthResponse{Status: status, Timestamp: time.Now().UTC(), Version: s.version}
}

func (s *Server) health(context.Context, *struct{}) (*healthOutput, error) {
	if s.isStopping() {
		return &healthOutput{Status: http.StatusServiceUnavailable, Body: s.healthBody(statusShuttingDown)}, nil
	}
	return &healthOutput{Status: http.StatusOK, Body: s.healthBody(statusHealthy)}, nil
}

func (s *Server) liveness(context.Context, *struct{}) (*healthOutput, error) {
	return &healthOutput{Status: http.StatusOK, Body: s.healthBody("alive")}, nil
}

func (s *Server) readiness(ctx context.Context, _ *struct{}) (*healthOutput, error) {
	db := s.pingDatabase(ctx)
	body := s.healthBody("ready")
	body.Checks = map[string]api.HealthCheck{"database": db}
	switch {
	case s.isStopping():
		body.Status = statusShuttingDown
		return &healthOutput{Status: http.StatusServiceUnavailable, Body: body}, nil
	case db.Status != statusHealthy:
		body.Status = "not_ready"
		return &healthOutput{Status: http.StatusServiceUnavailable, Body: body}, nil
	}
	return &healthOutput{Status: http.StatusOK, Body: body}, nil
}

func (s *Server) pingDatabase(ctx context.Context) api.HealthCheck {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	start := time.Now()
	err := s.store.Ping(ctx)
	c := api.HealthCheck{Status: statusHealthy, Message: "the database answers", DurationMs: api.DurationMs(time.Since(start))}
	if err != nil {
		c.Status, c.Message = statusUnhealthy, "the database does not answer"
		s.log.Warn("health: database ping failed", "err", err)
	}
	return c
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (s *Server) detailedHealth(ctx context.Context, _ *struct{}) (*detailedHealthOutput, error) {
	db := s.pingDatabase(ctx)
	out := api.DetailedHealthResponse{
		Status: statusHealthy, Timestamp: time.Now().UTC(), Version: s.version,
		UptimeSeconds: time.Since(s.startedAt).Seconds(), Leader: s.core.IsLeader(),
		Checks: map[string]api.HealthCheck{"database": db}, Queues: []api.QueueHealth{},
	}
	ps := s.store.Pool().Stat()
	out.Pool = api.PoolStats{
		TotalConns: ps.TotalConns(), AcquiredConns: ps.AcquiredConns(), IdleConns: ps.IdleConns(),
		ConstructingConns: ps.ConstructingConns(), MaxConns: ps.MaxConns(), AcquireCount: ps.AcquireCount(),
		EmptyAcquireCount: ps.EmptyAcquireCount(), CanceledAcquireCount: ps.CanceledAcquireCount(),
		AcquireWaitMs: ms(ps.AcquireDuration()),
	}
	if ps.MaxConns() > 0 {
		out.Pool.Utilization = float64(ps.AcquiredConns()) / float64(ps.MaxConns())
	}
	out.Info = s.healthInfo(ps.MaxConns())
	s.namedChecks(out.Checks, db, out.Pool)
	if db.Status != statusHealthy {
		out.Status = statusUnhealthy
		return &detailedHealthOutput{Status: http.StatusServiceUnavailable, Body: out}, nil
	}
	start := time.Now()
	stats, err := s.queueStats(ctx)
	qc := api.HealthCheck{Status: statusHealthy, DurationMs: api.DurationMs(time.Since(start))}
	if err != nil {
		s.log.Warn("health: reading queue statistics", "err", err)
		qc.Status, qc.Message = statusUnhealthy, "queue statistics could not be read"
		out.Status = statusDegraded
	}
	out.Checks["queues"] = qc
	for _, st := range stats {
		qh := api.QueueHealth{Queue: st.Queue, Depth: st.Depth, Visible: st.Visible,
			OldestMessageAgeSeconds: st.OldestAge.Seconds(), Status: s.queueLevel(st.Depth, st.OldestAge)}
		if qh.Status != "ok" && qh.Status != "warning" {
			out.Status = statusDegraded
		}
		out.Queues = append(out.Queues, qh)
	}
	out.Checks[api.CheckQueueDepth] = queueDepthCheck(qc, out.Queues)
	out.Checks[api.CheckVacuum] = s.vacuumCheck(ctx)
	out.UnservedSteps = []api.UnservedSteps{}
	start = time.Now()
	unserved, err := s.store.UnservedSteps(ctx)
	uc := api.HealthCheck{Status: statusHealthy, DurationMs: api.DurationMs(time.Since(start))}
	switch {
	case err != nil:
		s.log.Warn("health: counting unserved steps", "err", err)
		uc.Status, uc.Message = statusUnhealthy, "unserved steps could not be counted"
		out.Status = statusDegraded
	case len(unserved) > 0:
		var n int64
		for _, u := range unserved {
			n += u.Steps
			out.UnservedSteps = append(out.UnservedSteps, api.UnservedSteps{Namespace: u.Namespace, Callable: u.Callable,
				Steps: u.Steps, OldestMessageAgeSeconds: u.OldestAge.Seconds()})
		}
		uc.Status = statusDegraded
		uc.Message = fmt.Sprintf("%d steps of %d callables wait for a worker that has their handler", n, len(unserved))
		out.Status = statusDegraded
	}
	out.Checks[api.CheckUnservedSteps] = uc
	if s.isStopping() {
		out.Status = statusShuttingDown
		out.Info.OperationalState = statusShuttingDown
		return &detailedHealthOutput{Status: http.StatusServiceUnavailable, Body: out}, nil
	}
	return &detailedHealthOutput{Status: http.StatusOK, Body: out}, nil
}

// queueLevel classifies a queue against queues.depth_thresholds and
// queues.max_message_age (unset thresholds never trip).
func (s *Server) queueLevel(depth int64, oldest time.Duration) string {
	th := s.queues.DepthThresholds
	switch {
	case s.queues.MaxMessageAge > 0 && oldest > s.queues.MaxMessageAge:
		return "stuck"
	case th.Overflow > 0 && depth >= int64(th.Overflow):
		return "overflow"
	case th.Critical > 0 && depth >= int64(th.Critical):
		return "critical"
	case th.Warning > 0 && depth >= int64(th.Warning):
		return "warning"
	}
	return "ok"
}
