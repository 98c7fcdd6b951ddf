package web

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/shared/store"
)

type domainEventsInput struct {
	UUID  string `path:"uuid" doc:"Task UUID"`
	After int64  `query:"after" minimum:"0" doc:"Only events after this seq"`
	Limit int    `query:"limit" minimum:"0" maximum:"1000" doc:"At most this many events (default 1000)"`
}

type domainEventsOutput struct {
	Body []api.DomainEvent
}

func (s *Server) domainEventRoutes() {
	register(s, huma.Operation{
		OperationID: "listTaskDomainEvents", Method: http.MethodGet, Path: "/v1/tasks/{uuid}/domain_events",
		Tags: []string{"tasks"}, Summary: "The domain events a task's handlers published, oldest first",
		Description: "Events are listed once orchestration committed the step result that carried them, " +
			"whatever their delivery mode. The task's event stream sends them live as `event: domain_event`.",
	}, []int{400, 404}, s.listDomainEvents)
}

func (s *Server) listDomainEvents(ctx context.Context, in *domainEventsInput) (*domainEventsOutput, error) {
	id, err := parseID("uuid", in.UUID)
	if err != nil {
		return nil, err
	}
	if _, err := s.store.GetTask(ctx, id); err != nil {
		return nil, err
	}
	recs, err := s.store.DomainEvents(ctx, id, in.After, in.Limit)
	if err != nil {
		return nil, err
	}
	out := make([]api.DomainEvent, len(recs))
	for i, r := range recs {
		out[i] = domainEventView(r)
	}
	return &domainEventsOutput{Body: out}, nil
}

func domainEventView(r store.DomainEventRecord) api.DomainEvent {
	e, m := r.Event, r.Event.Metadata
	return api.DomainEvent{
		Seq: r.ID, EventID: e.EventID, EventName: e.EventName, EventVersion: e.EventVersion, Payload: e.Payload,
		Metadata: api.DomainEventMetadata{
			TaskUUID: m.TaskUUID, StepUUID: m.StepUUID, StepName: m.StepName, Namespace: m.Namespace,
			CorrelationID: m.CorrelationID, FiredAt: m.FiredAt, PublishedAt: m.PublishedAt, FiredBy: m.FiredBy,
			Condition: m.Condition, DeliveryMode: m.DeliveryMode, Attempt: m.Attempt, StepSucceeded: m.StepSucceeded,
		},
	}
}
