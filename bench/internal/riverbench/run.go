package riverbench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// throughputChainBase keeps throughput chain ids apart from latency ones.
const throughputChainBase = 1_000_000

// RiverVersion is the version of github.com/riverqueue/river linked into
// this binary, from its build information.
func RiverVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/riverqueue/river" {
				if d.Replace != nil {
					return d.Replace.Version
				}
				return d.Version
			}
		}
	}
	return "unknown"
}

// Run performs the whole benchmark: schema, migrations, the linear scenario
// and the throughput scenario, then drops the schema unless cfg.Keep.
func Run(ctx context.Context, cfg Config) (res *Result, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	admin, err := pgx.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer func() { _ = admin.Close(context.WithoutCancel(ctx)) }()

	res = &Result{
		System:  "river",
		Version: RiverVersion(),
		Machine: Machine{Cores: runtime.NumCPU(), Go: runtime.Version()},
		Config:  cfg.toJSON(),
	}
	if err := admin.QueryRow(ctx, "SHOW server_version").Scan(&res.Machine.Postgres); err != nil {
		return nil, err
	}

	if err := createSchema(ctx, admin, &cfg); err != nil {
		return nil, err
	}
	if !cfg.Keep {
		defer func() {
			dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer dcancel()
			// A fresh connection: the admin one may have been lost (e.g. a
			// server restart mid-run), and the schema should go regardless.
			derr := dropSchema(dctx, cfg.DatabaseURL, cfg.Schema)
			if derr != nil {
				err = errors.Join(err, fmt.Errorf("drop schema %s: %w", cfg.Schema, derr))
			}
		}()
	}
	nmig, err := migrate(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	cfg.logf("schema %s created, %d River migrations applied", cfg.Schema, nmig)

	if err := runLinear(ctx, &cfg, admin, res); err != nil {
		return nil, fmt.Errorf("linear4 scenario: %w", err)
	}
	if err := runThroughput(ctx, &cfg, admin, res); err != nil {
		return nil, fmt.Errorf("throughput scenario: %w", err)
	}
	return res, nil
}

func dropSchema(ctx context.Context, url, schema string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(ctx) }()
	_, err = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	return err
}

func createSchema(ctx context.Context, admin *pgx.Conn, cfg *Config) error {
	ident := pgx.Identifier{cfg.Schema}.Sanitize()
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", cfg.Schema).Scan(&exists); err != nil {
		return err
	}
	if exists {
		if !cfg.Replace {
			return fmt.Errorf("--schema %s: schema already exists; pick another name or pass --replace to drop it first", cfg.Schema)
		}
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+ident+" CASCADE"); err != nil {
			return fmt.Errorf("drop existing schema %s: %w", cfg.Schema, err)
		}
	}
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+ident); err != nil {
		return fmt.Errorf("create schema %s: %w", cfg.Schema, err)
	}
	return nil
}

// runLinear runs warm-up chains then LatencyN measured chains, one at a
// time.
func runLinear(ctx context.Context, cfg *Config, admin *pgx.Conn, res *Result) error {
	e, err := startEnv(ctx, cfg, 0)
	if err != nil {
		return err
	}
	defer e.stop(ctx)

	total := cfg.Warmup + cfg.LatencyN
	client := make([]time.Duration, 0, cfg.LatencyN)
	commit := make([]time.Duration, 0, cfg.LatencyN)
	for i := 1; i <= total; i++ {
		chain := int64(i)
		if cfg.Jitter > 0 {
			if err := sleep(ctx, rand.N(cfg.Jitter)); err != nil {
				return err
			}
		}
		done := e.tracker.expect(chain)
		start := time.Now()
		if _, err := e.client.Insert(ctx, stepArgs{Chain: chain, Step: 1}, nil); err != nil {
			return fmt.Errorf("insert chain %d: %w", chain, err)
		}
		at, err := e.waitChain(ctx, done)
		if err != nil {
			return err
		}
		if i <= cfg.Warmup {
			continue
		}
		client = append(client, at.Sub(start))
		if c, ok := e.tracker.commitTime(chain); ok {
			commit = append(commit, c.Sub(start))
		}
	}
	cfg.logf("linear4: %d chains done", total)

	q := `SELECT (args->>'chain')::bigint,
			min(created_at) FILTER (WHERE (args->>'step')::int = 1),
			max(finalized_at) FILTER (WHERE (args->>'step')::int = $4),
			count(*) FILTER (WHERE state = 'completed')
		FROM ` + pgx.Identifier{cfg.Schema, "river_job"}.Sanitize() + `
		WHERE kind = $1 AND (args->>'chain')::bigint BETWEEN $2 AND $3
		GROUP BY 1`
	rows, err := admin.Query(ctx, q, stepArgs{}.Kind(), cfg.Warmup+1, total, chainLen)
	if err != nil {
		return err
	}
	var server []time.Duration
	for rows.Next() {
		var (
			chain     int64
			created   *time.Time
			finalized *time.Time
			completed int
		)
		if err := rows.Scan(&chain, &created, &finalized, &completed); err != nil {
			return err
		}
		if created == nil || finalized == nil || completed != chainLen {
			return fmt.Errorf("chain %d: %d of %d jobs completed in river_job", chain, completed, chainLen)
		}
		server = append(server, finalized.Sub(*created))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(server) != cfg.LatencyN {
		return fmt.Errorf("found %d measured chains in river_job, want %d", len(server), cfg.LatencyN)
	}
	res.Linear4 = Linear{N: cfg.LatencyN, ClientMs: percentiles(client), ServerMs: percentiles(server)}
	res.Extra.CommitMs = percentiles(commit)
	return nil
}

// runThroughput submits ThroughputTasks chains from Concurrency goroutines
// (each keeps one insert in flight) to a client with Workers workers, and
// measures jobs/s plus the database work per job.
func runThroughput(ctx context.Context, cfg *Config, admin *pgx.Conn, res *Result) error {
	stats := newStatsReader(ctx, admin)
	before, err := stats.settle(ctx) // the linear scenario's pool has closed
	if err != nil {
		return err
	}
	rssReset := resetPeakRSS()
	split := startRSSSplit(rssSplitInterval)
	splitStopped := false
	defer func() {
		if !splitStopped {
			split.stop()
		}
	}()
	others, err := stats.otherSessions(ctx)
	if err != nil {
		return err
	}

	steps := cfg.ThroughputTasks * chainLen
	e, err := startEnv(ctx, cfg, steps)
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			e.stop(ctx)
		}
	}()

	allDone := e.tracker.countNext(cfg.ThroughputTasks)
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	subCtx, subCancel := context.WithCancel(ctx)
	defer subCancel()
	start := time.Now()
	for range cfg.Concurrency {
		wg.Go(func() {
			for {
				k := next.Add(1) - 1
				if k >= int64(cfg.ThroughputTasks) || subCtx.Err() != nil {
					return
				}
				chain := throughputChainBase + k
				if _, err := e.client.Insert(subCtx, stepArgs{Chain: chain, Step: 1}, nil); err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("insert chain %d: %w", chain, err); subCancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	cfg.logf("throughput: %d chains submitted in %s", cfg.ThroughputTasks, time.Since(start).Round(time.Millisecond))
	select {
	case <-allDone:
	case <-e.tracker.failed:
		return e.tracker.failErr
	case <-ctx.Done():
		return fmt.Errorf("waiting for chains to complete: %w (see --timeout)", ctx.Err())
	}
	elapsed := e.tracker.lastFinished().Sub(start)
	othersEnd, err := stats.otherSessions(ctx)
	if err != nil {
		return err
	}
	others = max(others, othersEnd)
	cfg.logf("throughput: all chains completed after %s", elapsed.Round(time.Millisecond))

	e.stop(ctx)
	stopped = true
	after, err := stats.settle(ctx)
	if err != nil {
		return err
	}
	rss, err := peakRSSMB()
	if err != nil {
		return err
	}
	anonMB, fileMB := split.stop()
	splitStopped = true

	// Server-side window and a completeness check.
	var (
		first, last *time.Time
		completed   int
	)
	err = admin.QueryRow(ctx, `SELECT min(created_at), max(finalized_at), count(*) FILTER (WHERE state = 'completed')
		FROM `+pgx.Identifier{cfg.Schema, "river_job"}.Sanitize()+`
		WHERE kind = $1 AND (args->>'chain')::bigint >= $2`, stepArgs{}.Kind(), throughputChainBase).Scan(&first, &last, &completed)
	if err != nil {
		return err
	}
	if completed != steps {
		return fmt.Errorf("%d of %d throughput jobs completed in river_job", completed, steps)
	}
	if first != nil && last != nil {
		res.Extra.ServerSeconds = round(last.Sub(*first).Seconds(), 3)
	}

	secs := elapsed.Seconds()
	t := Throughput{
		Tasks:          cfg.ThroughputTasks,
		Steps:          steps,
		Seconds:        round(secs, 3),
		StepsPerSec:    round(float64(steps)/secs, 1),
		DBXactsPerStep: round(float64(after.xacts-before.xacts)/float64(steps), 3),
		PeakRSSMB:      rss,
		PeakRSSAnonMB:  anonMB,
		PeakRSSFileMB:  fileMB,
	}
	res.Extra.DBXacts = after.xacts - before.xacts
	res.Extra.OtherSessions = others
	res.Extra.ClientXacts = e.counter.xacts.Load()
	res.Extra.ClientStatements = e.counter.statements.Load()
	res.Extra.DBStatements = -1
	res.Extra.StatementsWhy = stats.pgssWhy
	switch {
	case after.statements < 0 || before.statements < 0:
	case after.dealloc != before.dealloc:
		// Entries were evicted (pg_stat_statements.max reached): the sum of
		// calls lost whatever the evicted entries had counted.
		res.Extra.StatementsWhy = "pg_stat_statements evicted entries during the run (raise pg_stat_statements.max)"
	default:
		res.Extra.DBStatements = after.statements - before.statements
		v := round(float64(res.Extra.DBStatements)/float64(steps), 3)
		t.DBStatementsPerStep = &v
	}
	if rssReset {
		res.Extra.RSSScope = "VmHWM, reset before the throughput scenario"
	} else {
		res.Extra.RSSScope = "VmHWM over the whole process; reset not supported"
	}
	res.Throughput = t
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
