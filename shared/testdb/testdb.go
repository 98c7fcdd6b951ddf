// Package testdb gives every test its own freshly migrated PostgreSQL schema,
// so tests that talk to a real database stay independent and can run in
// parallel.
//
// The server comes from DATABASE_URL when set, else the local default
// postgres://postgres@127.0.0.1:5432/postgres. Each call to New creates a
// schema named t_<random>, applies the migrations, and drops the schema when
// the test ends.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tasker-go/tasker/shared/store/migrations"
)

// DefaultURL is used when DATABASE_URL is not set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// URL returns the server tests run against.
func URL() string {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// DB is one test's private schema.
type DB struct {
	URL    string
	Schema string
}

// New creates, migrates and (at cleanup) drops a private schema.
func New(t testing.TB) DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	schema := "t_" + randomHex(6)
	url := URL()
	if err := migrations.Migrate(ctx, url, schema); err != nil {
		t.Fatalf("testdb: migrating %s: %v (is PostgreSQL running? set DATABASE_URL)", schema, err)
	}
	t.Cleanup(func() { Drop(t, url, schema) })
	return DB{URL: url, Schema: schema}
}

// Empty creates a private schema without migrating it (for migration tests).
func Empty(t testing.TB) DB {
	t.Helper()
	schema := "t_" + randomHex(6)
	url := URL()
	t.Cleanup(func() { Drop(t, url, schema) })
	return DB{URL: url, Schema: schema}
}

// Drop removes a schema and everything in it.
func Drop(t testing.TB, url, schema string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Errorf("testdb: connecting to drop %s: %v", schema, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		t.Errorf("testdb: dropping %s: %v", schema, err)
	}
}

// Pool opens a pool whose connections use the test's schema, closed at
// cleanup.
func (d DB) Pool(t testing.TB, maxConns int32) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(d.URL)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = d.Schema
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// URLWithSchema returns the database URL with search_path set to the test's
// schema, for code that takes only a URL.
func (d DB) URLWithSchema() string {
	sep := "?"
	for _, c := range d.URL {
		if c == '?' {
			sep = "&"
		}
	}
	return fmt.Sprintf("%s%ssearch_path=%s", d.URL, sep, d.Schema)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
