package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// clockTicks is the unit of utime and stime in /proc/<pid>/stat (USER_HZ,
// 100 on every Linux architecture Tasker builds for).
const clockTicks = 100

// processCPU is the CPU time (user and system, all threads) a process has
// used so far, from /proc/<pid>/stat; false when it cannot be read.
func processCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	return parseProcStatCPU(string(b))
}

// parseProcStatCPU reads utime and stime (fields 14 and 15) of a
// /proc/<pid>/stat line. The command name (field 2) is in parentheses and
// may hold spaces, so the fields are counted after its closing one.
func parseProcStatCPU(line string) (time.Duration, bool) {
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(line[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, true
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
	cpu, ok := processCPU(w.pid)
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
	cpu, ok := processCPU(m.pid)
	steps, err := stepsProcessed(ctx, db, schema)
	if !ok || err != nil || steps <= m.steps {
		return
	}
	run.workerCPU += cpu - m.cpu
	run.workerSteps += steps - m.steps
	run.WorkerCPUMSPerStep = round2(float64(run.workerCPU.Microseconds()) / 1000 / float64(run.workerSteps))
}
