package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tasker-go/tasker/shared/domainevent"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/state"
	"github.com/tasker-go/tasker/shared/stepresult"
)

// domainEventBatch collects the domain events of the results one
// transaction commits.
type domainEventBatch struct {
	events []domainevent.Event
}

// resultEvents is the part of a stored result that carries events.
type resultEvents struct {
	Success      bool                     `json:"success"`
	DomainEvents []stepresult.DomainEvent `json:"domain_events"`
}

// add records the events the result of st publishes now that orchestration
// decided d for it: those whose condition matches the outcome. A result
// without events costs a byte search.
func (b *domainEventBatch) add(st Step, d Decision, t *lockedTask, now time.Time) {
	if t == nil || !bytes.Contains(st.Results, []byte(`"domain_events"`)) {
		return
	}
	var r resultEvents
	if json.Unmarshal(st.Results, &r) != nil || len(r.DomainEvents) == 0 {
		return
	}
	succeeded := st.State == state.StepEnqueuedForOrchestration && r.Success
	retrying := d.To == state.StepWaitingForRetry
	for _, e := range r.DomainEvents {
		if e.EventID == uuid.Nil || e.Name == "" || !stepresult.Publishes(e.Condition, succeeded, retrying) {
			continue
		}
		mode := e.DeliveryMode
		if mode == "" {
			mode = stepresult.DeliveryDurable
		}
		payload := e.Payload
		if len(payload) == 0 {
			payload = json.RawMessage(`{}`)
		}
		b.events = append(b.events, domainevent.Event{
			EventID: e.EventID, EventName: e.Name, EventVersion: domainevent.Version, Payload: payload,
			Metadata: domainevent.Metadata{
				TaskUUID: st.TaskUUID, StepUUID: st.UUID, StepName: st.Name, Namespace: t.Namespace,
				CorrelationID: t.CorrelationID, FiredAt: e.FiredAt, PublishedAt: now, FiredBy: e.FiredBy,
				Condition: e.Condition, DeliveryMode: mode, Attempt: st.Attempts, StepSucceeded: succeeded,
			},
		})
	}
}

// queue adds to o the recording of the events and the sending of the
// durable ones to their namespace's queue, in o's transaction.
func (b *domainEventBatch) queue(o *outbox) error {
	if len(b.events) == 0 {
		return nil
	}
	n := len(b.events)
	ids, tasks, steps := make([]uuid.UUID, n), make([]uuid.UUID, n), make([]uuid.UUID, n)
	names, modes, envs := make([]string, n), make([]string, n), make([]string, n)
	durable := map[string][]json.RawMessage{}
	for i, e := range b.events {
		env, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encoding domain event %s: %w", e.EventName, err)
		}
		ids[i], tasks[i], steps[i] = e.EventID, e.Metadata.TaskUUID, e.Metadata.StepUUID
		names[i], modes[i], envs[i] = e.EventName, e.Metadata.DeliveryMode, string(env)
		if e.Durable() {
			q := domainevent.QueueName(e.Metadata.Namespace)
			durable[q] = append(durable[q], env)
		}
	}
	o.b.Queue(`INSERT INTO domain_events (event_uuid, task_uuid, workflow_step_uuid, name, delivery_mode, envelope)
		SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::jsonb[])
		ON CONFLICT (event_uuid) DO NOTHING`, ids, tasks, steps, names, modes, envs)
	for q, payloads := range durable {
		if err := o.send(q, payloads, 0); err != nil {
			return fmt.Errorf("publishing domain events: %w", err)
		}
	}
	return nil
}

// DomainEventRecord is a published domain event as recorded.
type DomainEventRecord struct {
	// ID orders a task's events; pass the last one seen to DomainEvents.
	ID    int64
	Event domainevent.Event
}

// DomainEvents returns up to limit events of a task published after the
// event with id after (0: from the first), oldest first.
func (s *Store) DomainEvents(ctx context.Context, taskID uuid.UUID, after int64, limit int) ([]DomainEventRecord, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.pool.Query(ctx, `SELECT id, envelope FROM domain_events
		WHERE task_uuid = $1 AND id > $2 ORDER BY id LIMIT $3`, taskID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("reading domain events: %w", err)
	}
	type eventRow struct {
		ID       int64  `db:"id"`
		Envelope []byte `db:"envelope"`
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DomainEventRecord, error) {
		row, err := pgx.RowToStructByName[eventRow](r)
		if err != nil {
			return DomainEventRecord{}, err
		}
		rec := DomainEventRecord{ID: row.ID}
		return rec, json.Unmarshal(row.Envelope, &rec.Event)
	})
	if err != nil {
		return nil, fmt.Errorf("reading domain events: %w", err)
	}
	return out, nil
}

// MoveMessage moves a claimed message from one queue to another in one unit
// of work: the copy is sent and the original acked together (the domain
// event consumer's dead-lettering).
func (s *Store) MoveMessage(ctx context.Context, from, to string, m messaging.Message) error {
	return s.atomically(ctx, func(o *outbox) error {
		if err := o.send(to, []json.RawMessage{m.Payload}, 0); err != nil {
			return err
		}
		return o.ack(from, []messaging.Receipt{messaging.ReceiptOf(m)})
	})
}
