package main

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// pidCPU is the CPU time (user and system, all threads) a process has used
// so far, from /proc/<pid>/stat; false when it cannot be read.
func pidCPU(pid int) (time.Duration, bool) {
	st, err := readStat(pid)
	if err != nil {
		return 0, false
	}
	return ticks(st.utime + st.stime), true
}

// stepsProcessed counts the steps of schema that have run to the end.
func stepsProcessed(ctx context.Context, db *pgx.Conn, schema string) (int64, error) {
	var n int64
	err := db.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema}.Sanitize()+".workflow_steps WHERE processed").Scan(&n)
	return n, err
}

// workerCPU measures the CPU time a binding worker process spends per step
// over a run: unlike latency, CPU time hardly grows with the load of a
// shared machine, so it tells a cheaper binding from a quieter moment.
type workerCPU struct {
	pid   int
	cpu   time.Duration
	steps int64
}

// startWorkerCPU samples the worker before a run; nil for the in-process
// Go worker or when the figures cannot be read.
func startWorkerCPU(ctx context.Context, w *benchWorker, db *pgx.Conn, schema string) *workerCPU {
	if w == nil || w.pid == 0 || db == nil {
		return nil
	}
	cpu, ok := pidCPU(w.pid)
	if !ok {
		return nil
	}
	steps, err := stepsProcessed(ctx, db, schema)
	if err != nil {
		return nil
	}
	return &workerCPU{pid: w.pid, cpu: cpu, steps: steps}
}

// finish adds the run's CPU time and steps to run.
func (m *workerCPU) finish(ctx context.Context, run *handlerRun, db *pgx.Conn, schema string) {
	if m == nil || run == nil {
		return
	}
	cpu, ok := pidCPU(m.pid)
	steps, err := stepsProcessed(ctx, db, schema)
	if !ok || err != nil || steps <= m.steps {
		return
	}
	run.workerCPU += cpu - m.cpu
	run.workerSteps += steps - m.steps
	run.WorkerCPUMSPerStep = round2(float64(run.workerCPU.Microseconds()) / 1000 / float64(run.workerSteps))
}
