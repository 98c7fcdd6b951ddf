package web

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/shared/auth"
	"github.com/tasker-go/tasker/shared/messaging"
)

type configOutput struct {
	Body api.ConfigResponse
}

func (s *Server) configRoutes() {
	register(s, huma.Operation{
		OperationID: "getConfig", Method: http.MethodGet, Path: "/config", Tags: []string{"config"},
		Summary:     "The effective configuration, secrets redacted",
		Description: "Passwords in URLs and connection strings are replaced by ***. 404 when the server was built without its configuration.",
	}, []int{404}, s.getConfig)
}

func (s *Server) getConfig(ctx context.Context, _ *struct{}) (*configOutput, error) {
	if s.settings == nil {
		return nil, newError(http.StatusNotFound, CodeNotFound, "this server was started without a configuration to show")
	}
	red := s.settings.Redacted()
	raw, err := json.Marshal(red)
	if err != nil {
		return nil, err
	}
	out := api.ConfigResponse{
		Metadata: api.ConfigMetadata{Timestamp: time.Now().UTC(), Environment: s.environment(), Version: s.version},
		Auth:     auth.SafeConfig(red.Orchestration.Web.Auth), CircuitBreakers: api.SafeCircuitBreaker{},
		DatabasePools: api.SafeDatabasePools{WebAPIPoolSize: poolSize(red.Database.Pool.MaxConnections),
			WebAPIMaxConnections: poolSize(red.Database.Pool.MaxConnections)},
		DeploymentMode: "Hybrid",
		Messaging:      api.SafeMessagingConfig{Backend: string(red.Queues.Backend), Queues: []string{}},
		Config:         raw,
	}
	nss, err := s.store.ListNamespaces(ctx)
	if err != nil {
		return nil, err
	}
	out.Messaging.Queues = append(out.Messaging.Queues, messaging.StepResultsQueue, messaging.TaskRequestsQueue)
	for _, ns := range nss {
		out.Messaging.Queues = append(out.Messaging.Queues, messaging.WorkerQueue(ns.Name))
	}
	return &configOutput{Body: out}, nil
}

// poolSize is a configured connection count as tasker-core's u32 (the
// configuration validates it to 1-10000).
func poolSize(n int) uint32 {
	return uint32(min(max(n, 0), 10000)) //nolint:gosec // clamped to 0-10000 just above
}
