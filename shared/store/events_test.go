package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/shared/pgnotify"
	"github.com/tasker-go/tasker/shared/store"
)

func TestTaskEventsAreAnnouncedAndReadable(t *testing.T) {
	e := newEnv(t)
	connCfg, err := pgx.ParseConfig(e.db.URL)
	require.NoError(t, err)
	l, err := pgnotify.New(pgnotify.Config{ConnConfig: connCfg})
	require.NoError(t, err)
	require.NoError(t, l.Start(e.ctx))
	defer l.Stop()
	sub := l.Subscribe(store.TaskEventsChannel(e.db.Schema), "", 16)
	defer sub.Close()
	require.NoError(t, l.WaitReady(e.ctx))
	e.register("ev", "ev", linear)
	ct := e.createTask(linear, `{}`)
	id := ct.Task.UUID.String()
	waitFor := func() {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case n := <-sub.C():
				if strings.Contains(n.Payload, id) {
					return
				}
			case <-deadline:
				t.Fatal("no task event notification")
			}
		}
	}
	waitFor()
	evs, cur, err := e.store.TaskEventsAfter(e.ctx, ct.Task.UUID, store.EventCursor{})
	require.NoError(t, err)
	var tasks, steps int
	for _, ev := range evs {
		if ev.Kind == "task" {
			tasks++
		} else {
			steps++
		}
	}
	require.Equal(t, 4, tasks, "pending, initializing, enqueuing_steps, steps_in_process")
	require.Equal(t, 1, steps, "the first step enqueued (a step's history starts at its first move)")
	cs := e.claimAll("w").Claimed[0]
	waitFor()
	e.complete("w", cs, true, false)
	waitFor()
	e.process()
	waitFor()
	more, cur2, err := e.store.TaskEventsAfter(e.ctx, ct.Task.UUID, cur)
	require.NoError(t, err)
	var got []string
	for _, ev := range more {
		got = append(got, ev.Kind+":"+ev.ToState)
	}
	// The task stays steps_in_process (its target did not change), so only
	// step transitions are recorded for this batch.
	require.Equal(t, []string{"step:in_progress", "step:enqueued_for_orchestration", "step:complete", "step:enqueued"}, got)
	none, _, err := e.store.TaskEventsAfter(e.ctx, ct.Task.UUID, cur2)
	require.NoError(t, err)
	require.Empty(t, none)
}
