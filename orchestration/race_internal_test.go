package orchestration

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/messaging"
	"github.com/tasker-go/tasker/shared/messaging/pgqueue"
	"github.com/tasker-go/tasker/shared/stepresult"
	"github.com/tasker-go/tasker/shared/store"
	"github.com/tasker-go/tasker/shared/template"
	"github.com/tasker-go/tasker/shared/testdb"
)

// raceEnv is two orchestrators (not started) on one store, for tests that
// hand both the same result message at the same moment. The test plays the
// worker with runStep.
type raceEnv struct {
	t     *testing.T
	ctx   context.Context
	st    *store.Store
	q     *pgqueue.Queue
	queue string
	cores []*Core
}

// newRaceEnv registers tpls (all of namespace ns) on a fresh schema and
// builds the two orchestrators; they count into one metrics registry.
func newRaceEnv(t *testing.T, ns string, tpls []*template.Template) *raceEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	db := testdb.New(t)
	pool := db.Pool(t, 8)
	q, err := pgqueue.New(pgqueue.Config{Pool: pool, Schema: db.Schema})
	require.NoError(t, err)
	st, err := store.New(store.Config{Pool: pool, Queue: q, Schema: db.Schema, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	_, err = st.RegisterTemplates(ctx, tpls)
	require.NoError(t, err)
	e := &raceEnv{t: t, ctx: ctx, st: st, q: q, queue: messaging.WorkerQueue(ns), cores: make([]*Core, 2)}
	for _, name := range []string{e.queue, messaging.StepResultsQueue} {
		require.NoError(t, q.Ensure(ctx, name))
	}
	connCfg, err := pgx.ParseConfig(db.URLWithSchema())
	require.NoError(t, err)
	reg := prometheus.NewRegistry() // shared: both count into one series
	for i := range e.cores {
		e.cores[i], err = New(Options{Store: st, Queue: q, ConnConfig: connCfg,
			Config: *config.Default(config.ContextOrchestration).Orchestration,
			Logger: slog.New(slog.DiscardHandler), Registerer: reg})
		require.NoError(t, err)
	}
	return e
}

// runStep claims the one enqueued step (it must be named name), reports
// value as its successful result and returns the result message.
func (e *raceEnv) runStep(name string, value json.RawMessage) messaging.Message {
	t := e.t
	t.Helper()
	msgs, err := e.q.Claim(e.ctx, e.queue, messaging.ClaimOptions{N: 10, Visibility: 30 * time.Second})
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	var sm messaging.StepMessage
	require.NoError(t, json.Unmarshal(msgs[0].Payload, &sm))
	claimed, err := e.st.ClaimSteps(e.ctx, "w", []store.ClaimRequest{{StepUUID: sm.StepUUID, TaskUUID: sm.TaskUUID,
		MessageID: msgs[0].ID, ReadCount: msgs[0].ReadCount, Deadline: time.Now().Add(30 * time.Second)}})
	require.NoError(t, err)
	require.Len(t, claimed.Claimed, 1)
	cs := claimed.Claimed[0]
	require.Equal(t, name, cs.Step.Name)
	res, err := json.Marshal(stepresult.Success(cs.Step.UUID, value, nil))
	require.NoError(t, err)
	_, err = e.st.CompleteSteps(e.ctx, []store.StepResult{{StepUUID: cs.Step.UUID, TaskUUID: cs.Task.UUID,
		Attempt: cs.Step.Attempts, WorkerID: "w", CorrelationID: cs.Task.CorrelationID, Success: true, Result: res,
		Queue: e.queue, MessageID: cs.MessageID, ReadCount: cs.ReadCount}})
	require.NoError(t, err)
	rm, err := e.q.Claim(e.ctx, messaging.StepResultsQueue, messaging.ClaimOptions{N: 10, Visibility: 0})
	require.NoError(t, err)
	require.Len(t, rm, 1)
	return rm[0]
}

// processAtOnce hands msg to both orchestrators' result processing at the
// same moment; neither may fail.
func (e *raceEnv) processAtOnce(msg messaging.Message) {
	var wg sync.WaitGroup
	errs := make([]error, len(e.cores))
	start := make(chan struct{})
	for i, c := range e.cores {
		wg.Go(func() {
			<-start
			errs[i] = processGiven(e.ctx, c, []messaging.Message{msg})
		})
	}
	close(start)
	wg.Wait()
	require.NoError(e.t, errs[0])
	require.NoError(e.t, errs[1])
}

// processGiven processes the given result messages on c as its result
// consumer would had its claim taken them (two orchestrators handed the same
// delivery): store.ProcessResults and the core's bookkeeping.
func processGiven(ctx context.Context, c *Core, msgs []messaging.Message) error {
	rms := make([]store.ResultMessage, 0, len(msgs))
	for _, m := range msgs {
		sm, ok := messaging.ParseResultMessage(m.Payload)
		if !ok {
			return fmt.Errorf("unreadable result message %d", m.ID)
		}
		rms = append(rms, store.ResultMessage{MessageID: m.ID, ReadCount: m.ReadCount, TaskUUID: sm.TaskUUID, StepUUID: sm.StepUUID})
	}
	start := time.Now()
	out, err := c.store.ProcessResults(ctx, rms, c.decide)
	if err != nil {
		return err
	}
	c.observeResults(out, len(rms), start)
	return nil
}

// count reads a counter of the shared registry.
func (e *raceEnv) count(c prometheus.Counter) float64 {
	var m dto.Metric
	require.NoError(e.t, c.Write(&m))
	return m.GetCounter().GetValue()
}
