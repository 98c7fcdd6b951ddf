package riverbench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// dbCounters are cumulative counters of the benchmark's database.
type dbCounters struct {
	xacts      int64
	statements int64 // -1 when unavailable
	dealloc    int64 // pg_stat_statements_info.dealloc; -1 when unavailable
}

// statsReader reads pg_stat_database (and pg_stat_statements when the
// extension is installed and loaded) over a dedicated connection.
type statsReader struct {
	conn         *pgx.Conn
	pgssRelation string // "" when pg_stat_statements is unusable
	pgssInfo     string // pg_stat_statements_info (PostgreSQL 14+), "" if absent
	pgssWhy      string
}

func newStatsReader(ctx context.Context, conn *pgx.Conn) *statsReader {
	s := &statsReader{conn: conn}
	var schema string
	err := conn.QueryRow(ctx, `SELECT n.nspname FROM pg_extension e
		JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_stat_statements'`).Scan(&schema)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		s.pgssWhy = "pg_stat_statements extension not installed in this database"
		return s
	case err != nil:
		s.pgssWhy = "pg_stat_statements lookup failed: " + err.Error()
		return s
	}
	rel := pgx.Identifier{schema, "pg_stat_statements"}.Sanitize()
	var n int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+rel).Scan(&n); err != nil {
		// Typically "must be loaded via shared_preload_libraries".
		s.pgssWhy = "pg_stat_statements not usable: " + err.Error()
		return s
	}
	s.pgssRelation = rel
	info := pgx.Identifier{schema, "pg_stat_statements_info"}.Sanitize()
	if err := conn.QueryRow(ctx, "SELECT dealloc FROM "+info).Scan(&n); err == nil {
		s.pgssInfo = info
	}
	return s
}

func (s *statsReader) read(ctx context.Context) (dbCounters, error) {
	var c dbCounters
	// Each autocommit statement is its own transaction, so the cumulative
	// stats snapshot is never stale here; clear it anyway in case
	// stats_fetch_consistency = snapshot.
	if _, err := s.conn.Exec(ctx, "SELECT pg_stat_clear_snapshot()"); err != nil {
		return c, err
	}
	err := s.conn.QueryRow(ctx, `SELECT xact_commit + xact_rollback FROM pg_stat_database
		WHERE datname = current_database()`).Scan(&c.xacts)
	if err != nil {
		return c, fmt.Errorf("read pg_stat_database: %w", err)
	}
	c.statements, c.dealloc = -1, -1
	if s.pgssInfo != "" {
		if err := s.conn.QueryRow(ctx, "SELECT dealloc FROM "+s.pgssInfo).Scan(&c.dealloc); err != nil {
			return c, fmt.Errorf("read pg_stat_statements_info: %w", err)
		}
	}
	if s.pgssRelation != "" {
		err := s.conn.QueryRow(ctx, `SELECT coalesce(sum(calls), 0)::bigint FROM `+s.pgssRelation+`
			WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&c.statements)
		if err != nil {
			return c, fmt.Errorf("read pg_stat_statements: %w", err)
		}
	}
	return c, nil
}

// settle waits until the benchmark's pool connections have exited (a
// backend flushes its pending statistics when it exits; while idle it may
// hold them for up to several seconds) and the counters stop moving.
func (s *statsReader) settle(ctx context.Context) (dbCounters, error) {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		if err := s.conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = $1 AND datname = current_database()`, appName).Scan(&n); err != nil {
			return dbCounters{}, err
		}
		if n == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	prev, err := s.read(ctx)
	if err != nil {
		return prev, err
	}
	for time.Now().Before(deadline) {
		time.Sleep(150 * time.Millisecond)
		cur, err := s.read(ctx)
		if err != nil {
			return cur, err
		}
		// The reader's own statements count; allow for them.
		if cur.xacts-prev.xacts <= 2 {
			return cur, nil
		}
		prev = cur
	}
	return prev, nil
}

// otherSessions counts client backends connected to this database that are
// neither the benchmark's pool nor the reader itself.
func (s *statsReader) otherSessions(ctx context.Context) (int, error) {
	var n int
	err := s.conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND backend_type = 'client backend'
		AND pid <> pg_backend_pid() AND application_name <> $1`, appName).Scan(&n)
	return n, err
}

// resetPeakRSS resets VmHWM (Linux ≥ 4.0); false when it could not.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSSMB reads VmHWM from /proc/self/status in MiB.
func peakRSSMB() (float64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "VmHWM:") {
			continue
		}
		fields := strings.Fields(strings.TrimPrefix(line, "VmHWM:"))
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("unexpected VmHWM line %q", line)
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, err
		}
		return round(float64(kb)/1024, 1), nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no VmHWM line in /proc/self/status")
}
