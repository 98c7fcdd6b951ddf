package riverbench

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Result is the JSON document that `tasker bench` reads. Keep the field
// names in step with bench/README.md.
type Result struct {
	System     string     `json:"system"`
	Version    string     `json:"version"`
	Machine    Machine    `json:"machine"`
	Config     configJSON `json:"config"`
	Linear4    Linear     `json:"linear4"`
	Throughput Throughput `json:"throughput"`

	// Extra holds diagnostics printed in the summary but not part of the
	// shared JSON shape.
	Extra Extra `json:"-"`
}

// Machine describes where the numbers were taken.
type Machine struct {
	Cores    int    `json:"cores"`
	Go       string `json:"go"`
	Postgres string `json:"postgres"`
}

// Percentiles are in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Linear is the 4-step chain latency scenario.
type Linear struct {
	N        int         `json:"n"`
	ClientMs Percentiles `json:"client_ms"`
	ServerMs Percentiles `json:"server_ms"`
}

// Throughput is the sustained throughput scenario. A River job is a step.
type Throughput struct {
	Tasks               int      `json:"tasks"`
	Steps               int      `json:"steps"`
	Seconds             float64  `json:"seconds"`
	StepsPerSec         float64  `json:"steps_per_sec"`
	DBXactsPerStep      float64  `json:"db_xacts_per_step"`
	DBStatementsPerStep *float64 `json:"db_statements_per_step"`
	PeakRSSMB           float64  `json:"peak_rss_mb"`
	// PeakRSSAnonMB and PeakRSSFileMB split PeakRSSMB: the highest
	// anonymous (heap, stacks, runtime) and file-backed (the binary's
	// pages) resident memory sampled every 50 ms over the scenario.
	PeakRSSAnonMB float64 `json:"peak_rss_anon_mb,omitempty"`
	PeakRSSFileMB float64 `json:"peak_rss_file_mb,omitempty"`
}

// Extra are diagnostics for the human summary only.
type Extra struct {
	// CommitMs: insert of job 1 → the worker's commit of job 4's completion
	// transaction returned, measured in-process (no completer/event delay).
	CommitMs Percentiles
	// ServerSeconds: first job's created_at → last job's finalized_at.
	ServerSeconds float64
	DBXacts       int64
	DBStatements  int64 // -1 when pg_stat_statements is unavailable
	StatementsWhy string
	// ClientXacts and ClientStatements are counted by a pgx tracer on the
	// River client's pool during the throughput scenario (startup and
	// shutdown included); see tracer.go.
	ClientXacts int64
	// OtherSessions is the most client backends of other programs seen
	// connected to the database at the start and end of the throughput run.
	OtherSessions    int
	ClientStatements int64
	RSSScope         string
}

// percentiles uses the nearest-rank method on a copy of d.
func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p/100*float64(len(s)))) - 1
		i = max(0, min(i, len(s)-1))
		return ms(s[i])
	}
	return Percentiles{P50: rank(50), P95: rank(95), P99: rank(99), Max: ms(s[len(s)-1])}
}

func ms(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }

func round(v float64, places int) float64 {
	p := math.Pow10(places)
	return math.Round(v*p) / p
}

func (p Percentiles) String() string {
	return fmt.Sprintf("p50 %8.2f  p95 %8.2f  p99 %8.2f  max %8.2f", p.P50, p.P95, p.P99, p.Max)
}

// Summary is the human-readable report printed on stdout.
func (r *Result) Summary() string {
	var b strings.Builder
	c := r.Config
	fmt.Fprintf(&b, "River %s baseline (go %s, PostgreSQL %s, %d cores)\n", r.Version, r.Machine.Go, r.Machine.Postgres, r.Machine.Cores)
	fmt.Fprintf(&b, "config: schema=%s workers=%d max_conns=%d fetch_cooldown=%s fetch_poll_interval=%s jitter=%s\n",
		c.Schema, c.Workers, c.MaxConns, c.FetchCooldown, c.FetchPollInterval, c.Jitter)
	fmt.Fprintf(&b, "\nlinear4: %d chains of 4 jobs, sequential, after %d warm-up chains (ms)\n", r.Linear4.N, c.Warmup)
	fmt.Fprintf(&b, "  client (insert job 1 → job 4 completed event)   %s\n", r.Linear4.ClientMs)
	fmt.Fprintf(&b, "  server (job 1 created_at → job 4 finalized_at)  %s\n", r.Linear4.ServerMs)
	fmt.Fprintf(&b, "  extra: client → job 4 completion tx committed   %s\n", r.Extra.CommitMs)
	t := r.Throughput
	fmt.Fprintf(&b, "\nthroughput: %d chains = %d jobs, %d concurrent submitters, %d workers\n", t.Tasks, t.Steps, c.Concurrency, c.Workers)
	fmt.Fprintf(&b, "  %.3f s first insert → last completion event: %.1f jobs/s\n", t.Seconds, t.StepsPerSec)
	if r.Extra.ServerSeconds > 0 {
		fmt.Fprintf(&b, "  %.3f s first created_at → last finalized_at: %.1f jobs/s (server side)\n",
			r.Extra.ServerSeconds, float64(t.Steps)/r.Extra.ServerSeconds)
	}
	steps := float64(max(t.Steps, 1))
	fmt.Fprintf(&b, "  db transactions: %d (%.2f per job, pg_stat_database: whole database)\n", r.Extra.DBXacts, t.DBXactsPerStep)
	fmt.Fprintf(&b, "                   %d (%.2f per job, counted by the River pool's pgx tracer)\n",
		r.Extra.ClientXacts, float64(r.Extra.ClientXacts)/steps)
	fmt.Fprintf(&b, "                   (pg_stat_database also counts what the client does not send: each NOTIFY processed by a\n")
	fmt.Fprintf(&b, "                   LISTEN backend, connection start-up, autovacuum, and any other session in the database)\n")
	if r.Extra.OtherSessions > 0 {
		fmt.Fprintf(&b, "                   WARNING: %d other session(s) were connected to this database; pg_stat_* counts include\n", r.Extra.OtherSessions)
		fmt.Fprintf(&b, "                   their work. Point --database-url at a database of its own for clean numbers.\n")
	}
	if t.DBStatementsPerStep != nil {
		fmt.Fprintf(&b, "  db statements:   %d (%.2f per job, pg_stat_statements)\n", r.Extra.DBStatements, *t.DBStatementsPerStep)
	} else {
		fmt.Fprintf(&b, "  db statements:   n/a in pg_stat_statements (%s)\n", r.Extra.StatementsWhy)
	}
	fmt.Fprintf(&b, "                   %d (%.2f per job, counted by the River pool's pgx tracer)\n",
		r.Extra.ClientStatements, float64(r.Extra.ClientStatements)/steps)
	if t.PeakRSSAnonMB > 0 {
		fmt.Fprintf(&b, "  peak RSS: %.1f MB (%s; anonymous ≤ %.1f MB, file-backed ≤ %.1f MB, sampled every %s)\n",
			t.PeakRSSMB, r.Extra.RSSScope, t.PeakRSSAnonMB, t.PeakRSSFileMB, rssSplitInterval)
	} else {
		fmt.Fprintf(&b, "  peak RSS: %.1f MB (%s)\n", t.PeakRSSMB, r.Extra.RSSScope)
	}
	return b.String()
}
