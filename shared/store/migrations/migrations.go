// Package migrations holds Tasker's schema as embedded goose migrations and
// applies them to one PostgreSQL schema.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

//go:embed *.sql
var files embed.FS

// FS returns the embedded migration files.
func FS() fs.FS { return files }

var schemaRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// ValidSchema reports whether name is an acceptable schema name: lower-case
// letters, digits and underscores, starting with a letter or underscore.
func ValidSchema(name string) bool { return schemaRE.MatchString(name) }

// Status is the state of one migration.
type Status struct {
	Version int64
	Name    string
	Applied bool
}

// Migrator applies the embedded migrations to one schema.
type Migrator struct {
	db       *sql.DB
	provider *goose.Provider
	schema   string
}

// Open connects to databaseURL and prepares to migrate schema (created on Up
// when missing). Close releases the connection.
func Open(ctx context.Context, databaseURL, schema string) (*Migrator, error) {
	if !ValidSchema(schema) {
		return nil, fmt.Errorf("invalid schema name %q: use lower-case letters, digits and underscores", schema)
	}
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parsing database url: %w", err)
	}
	cfg.RuntimeParams["search_path"] = schema
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(2)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("connecting to database: %w", err)
	}
	// goose needs its version table to exist in our schema, so the schema
	// itself must exist before the provider is built.
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("creating schema %s: %w", schema, err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, files)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("loading migrations: %w", err)
	}
	return &Migrator{db: db, provider: p, schema: schema}, nil
}

// Close releases the database connection.
func (m *Migrator) Close() error { return m.db.Close() }

// Up applies every pending migration and returns how many ran.
func (m *Migrator) Up(ctx context.Context) (int, error) {
	res, err := m.provider.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("migrating schema %s up: %w", m.schema, err)
	}
	return len(res), nil
}

// Down rolls back the most recent migration.
func (m *Migrator) Down(ctx context.Context) (int, error) {
	res, err := m.provider.Down(ctx)
	if err != nil {
		if errors.Is(err, goose.ErrNoNextVersion) {
			return 0, nil
		}
		return 0, fmt.Errorf("migrating schema %s down: %w", m.schema, err)
	}
	if res == nil {
		return 0, nil
	}
	return 1, nil
}

// Status lists every migration and whether it is applied.
func (m *Migrator) Status(ctx context.Context) ([]Status, error) {
	st, err := m.provider.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading migration status: %w", err)
	}
	out := make([]Status, 0, len(st))
	for _, s := range st {
		out = append(out, Status{Version: s.Source.Version, Name: s.Source.Path, Applied: s.State == goose.StateApplied})
	}
	return out, nil
}

// Migrate is Open + Up + Close.
func Migrate(ctx context.Context, databaseURL, schema string) error {
	m, err := Open(ctx, databaseURL, schema)
	if err != nil {
		return err
	}
	defer m.Close()
	_, err = m.Up(ctx)
	return err
}
