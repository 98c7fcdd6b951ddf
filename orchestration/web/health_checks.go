package web

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/orchestration"
)

// Pool utilization (acquired / max) from which pool_utilization is
// degraded, and from which unhealthy.
const (
	poolDegradedAt  = 0.8
	poolUnhealthyAt = 0.95
)

// namedChecks fills the checks tasker-core's /health/detailed names, from
// what this server has: one database pool shared by the API and
// orchestration, no circuit breaker and no in-process command channels.
// queue_depth starts as unknown until the queues are read.
func (s *Server) namedChecks(checks map[string]api.HealthCheck, db api.HealthCheck, pool api.PoolStats) {
	checks[api.CheckWebDatabase] = db
	checks[api.CheckOrchestrationDatabase] = db
	checks[api.CheckCircuitBreaker] = api.HealthCheck{Status: statusHealthy,
		Message: "no circuit breaker: requests answer 503 at once while the database is unavailable"}
	sys := api.HealthCheck{Status: statusHealthy, Message: "orchestration is running"}
	if s.core.IsLeader() {
		sys.Message = "orchestration is running (leader: runs the cluster-wide loops)"
	}
	if s.isStopping() {
		sys = api.HealthCheck{Status: statusUnhealthy, Message: "shutting down"}
	}
	checks[api.CheckOrchestrationSystem] = sys
	checks[api.CheckCommandProcessor] = api.HealthCheck{Status: sys.Status,
		Message: "no command channel: requests act on the database directly"}
	pc := api.HealthCheck{Status: statusHealthy}
	switch {
	case pool.Utilization >= poolUnhealthyAt:
		pc.Status = statusUnhealthy
	case pool.Utilization >= poolDegradedAt:
		pc.Status = statusDegraded
	}
	pc.Message = fmt.Sprintf("below %.0f%% of the pool's %d connections in use (see pool)", poolDegradedAt*100, pool.MaxConns)
	if pc.Status != statusHealthy {
		pc.Message = fmt.Sprintf("at least %.0f%% of the pool's %d connections in use (see pool)", poolDegradedAt*100, pool.MaxConns)
	}
	checks[api.CheckPoolUtilization] = pc
	checks[api.CheckChannelSaturation] = api.HealthCheck{Status: statusHealthy,
		Message: "no in-process channels: work is handed over through the database and the queues"}
	checks[api.CheckQueueDepth] = api.HealthCheck{Status: "unknown", Message: "queues not read: the database is unavailable"}
}

// queueDepthCheck summarises the queues: unhealthy when they could not be
// read or one overflows or is stuck, degraded when one is critical.
func queueDepthCheck(read api.HealthCheck, queues []api.QueueHealth) api.HealthCheck {
	if read.Status != statusHealthy {
		return read
	}
	c := api.HealthCheck{Status: statusHealthy, DurationMs: read.DurationMs}
	var bad []string
	for _, q := range queues {
		switch q.Status {
		case "overflow", "stuck":
			c.Status = statusUnhealthy
			bad = append(bad, q.Queue+" "+q.Status)
		case "critical":
			if c.Status == statusHealthy {
				c.Status = statusDegraded
			}
			bad = append(bad, q.Queue+" "+q.Status)
		}
	}
	c.Message = fmt.Sprintf("%d queues within their thresholds", len(queues))
	if len(bad) > 0 {
		c.Message = strings.Join(bad, ", ")
	}
	return c
}

func (s *Server) healthInfo(maxConns int32) api.HealthInfo {
	size := uint32(max(maxConns, 0))
	state := "normal"
	if s.isStopping() {
		state = statusShuttingDown
	}
	return api.HealthInfo{Version: s.version, Environment: s.environment(), OperationalState: state,
		WebDatabasePoolSize: size, OrchestrationDatabasePoolSize: size, CircuitBreakerState: "closed"}
}

// environment is the configuration's environment ("" when the server was
// built without one: "unknown").
func (s *Server) environment() string {
	if s.settings != nil && s.settings.Env != "" {
		return s.settings.Env
	}
	return "unknown"
}

// vacuumCheck says whether dead rows in the engine's tables are being
// reclaimed: healthy, or warning with the problem (a warning leaves the
// overall status as it is: the engine still works, only slower).
func (s *Server) vacuumCheck(ctx context.Context) api.HealthCheck {
	start := time.Now()
	st, err := s.store.VacuumStatus(ctx)
	c := api.HealthCheck{Status: statusHealthy, DurationMs: api.DurationMs(time.Since(start))}
	if err != nil {
		s.log.Warn("health: reading vacuum statistics", "err", err)
		c.Status, c.Message = "unknown", "vacuum statistics could not be read"
		return c
	}
	ok, msg := orchestration.VacuumAdvice(st, time.Now())
	c.Message = msg
	if !ok {
		c.Status = "warning"
	}
	return c
}
