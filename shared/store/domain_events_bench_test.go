package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/messaging/pgqueue"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/testdb"
)

// BenchmarkProcessResultsEvents measures orchestration's result
// transaction for a batch of 10 one-step tasks whose results carry 0 or 2
// domain events each (one durable: recorded and queued; one fast: recorded).
// Only ProcessResults is timed.
func BenchmarkProcessResultsEvents(b *testing.B) {
	for _, events := range []int{0, 2} {
		b.Run(fmt.Sprintf("events=%d", events), func(b *testing.B) {
			ctx := context.Background()
			db := testdb.New(b)
			pool := db.Pool(b, 8)
			q, err := pgqueue.New(pgqueue.Config{Pool: pool, Schema: db.Schema})
			require.NoError(b, err)
			st, err := store.New(store.Config{Pool: pool, Queue: q, ProcessorID: "bench", Schema: db.Schema})
			require.NoError(b, err)
			nt, err := st.RegisterTemplate(ctx, store.TemplateRegistration{Namespace: "bench", Name: "b", Version: "1.0.0",
				Configuration: json.RawMessage(`{"steps":[]}`), StepNames: []string{"only"}})
			require.NoError(b, err)
			named, err := st.NamedStepIDs(ctx, []string{"only"})
			require.NoError(b, err)
			for _, name := range []string{messaging.WorkerQueue("bench"), messaging.StepResultsQueue, "bench_domain_events"} {
				require.NoError(b, q.Ensure(ctx, name))
			}
			const batch = 10
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				for range batch {
					_, err := st.CreateTask(ctx, store.NewTask{UUID: uuid.Must(uuid.NewV7()), NamedTaskUUID: nt.UUID,
						Namespace: "bench", Context: json.RawMessage(`{}`), IdentityHash: uuid.NewString(),
						Steps: []store.NewStep{{UUID: uuid.Must(uuid.NewV7()), NamedStepUUID: named["only"], Name: "only",
							HandlerCallable: "h", MaxAttempts: 1}}})
					require.NoError(b, err)
				}
				claimed, err := st.ClaimNext(ctx, store.Claimer{ID: "w"}, messaging.WorkerQueue("bench"), batch, time.Minute)
				require.NoError(b, err)
				var results []store.StepResult
				for _, cs := range claimed.Claimed {
					res := stepresult.Success(cs.Step.UUID, json.RawMessage(`{"ok":true}`), nil)
					for i := range events {
						mode := []string{"durable", "fast"}[i%2]
						res.DomainEvents = append(res.DomainEvents, stepresult.DomainEvent{EventID: uuid.Must(uuid.NewV7()),
							Name: "bench." + mode, Condition: "success", DeliveryMode: mode,
							Payload: json.RawMessage(`{"order_id":"o-1","amount":12.5}`), FiredAt: time.Now()})
					}
					body, err := json.Marshal(res)
					require.NoError(b, err)
					results = append(results, store.StepResult{StepUUID: cs.Step.UUID, TaskUUID: cs.Task.UUID,
						Attempt: cs.Step.Attempts, WorkerID: "w", CorrelationID: cs.Task.CorrelationID, Success: true,
						Result: body, Queue: messaging.WorkerQueue("bench"), MessageID: cs.MessageID, ReadCount: cs.ReadCount})
				}
				_, err = st.CompleteSteps(ctx, results)
				require.NoError(b, err)
				msgs, err := q.Claim(ctx, messaging.StepResultsQueue, messaging.ClaimOptions{N: batch, Visibility: time.Minute})
				require.NoError(b, err)
				rms := make([]store.ResultMessage, 0, len(msgs))
				for _, m := range msgs {
					sm, ok := messaging.ParseResultMessage(m.Payload)
					require.True(b, ok)
					rms = append(rms, store.ResultMessage{MessageID: m.ID, ReadCount: m.ReadCount, TaskUUID: sm.TaskUUID, StepUUID: sm.StepUUID})
				}
				b.StartTimer()
				out, err := st.ProcessResults(ctx, rms, decide)
				require.NoError(b, err)
				require.Len(b, out.DomainEvents, batch*events)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*batch), "us/step")
		})
	}
}
