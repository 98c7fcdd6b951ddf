package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"
)

// classified is a database error tagged with the sentinel that says what
// kind of failure it is. Its message is the original error's; errors.Is
// finds the sentinel and errors.As still finds the driver's error.
type classified struct {
	kind error
	err  error
}

func (e *classified) Error() string   { return e.err.Error() }
func (e *classified) Unwrap() []error { return []error{e.kind, e.err} }

// Classify tags a database error with ErrUnavailable, ErrStatementTimeout or
// ErrDatabase; other errors (pgx.ErrNoRows, context errors, the store's own)
// pass unchanged, and so does an error classified before. Every error the
// store's methods return has been through it; it is exported for the REST
// error maps, which apply it to errors from code that reaches PostgreSQL
// without the store (the queue backend, the LISTEN connection).
func Classify(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrStatementTimeout) || errors.Is(err, ErrDatabase) {
		return err
	}
	if connectionFailure(err) {
		return &classified{ErrUnavailable, err}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if pe.Code == "57014" { // query_canceled: statement_timeout or a cancel request
			return &classified{ErrStatementTimeout, err}
		}
		return &classified{ErrDatabase, err}
	}
	return err
}

// classifyAcquire is Classify for errors of calls that take a connection
// from the pool: a bare context deadline there, when the context was live as
// the call began (live), means no connection came before the deadline (pgx
// wraps deadlines that hit a running statement). A context already past its
// deadline is the caller's timeout, not the database's.
func classifyAcquire(live bool, err error) error {
	if live && err == context.DeadlineExceeded { //nolint:errorlint // the bare sentinel is what marks the acquire
		return &classified{ErrUnavailable, fmt.Errorf("no database connection became available before the deadline: %w", err)}
	}
	return Classify(err)
}

// connectionFailure reports the failures that mean the database cannot be
// reached or is going away, as opposed to a statement it rejected.
func connectionFailure(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"): // connection_exception class
			return true
		case pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03": // admin/crash shutdown, cannot connect now
			return true
		case pe.Code == "57P05": // idle_session_timeout: the server closed the session
			return true
		case pe.Code == "53300": // too_many_connections
			return true
		}
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	if errors.Is(err, puddle.ErrClosedPool) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNABORTED) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && !ne.Timeout()
}

// dbPool is the pool as the store uses it: every error that comes out of
// it, including those surfacing later from rows, rows scanned and batch
// results, is classified (see Classify), so the store's methods return
// sentinels callers can test instead of driver errors. Transactions are
// classified where they end (inTx).
type dbPool struct {
	*pgxpool.Pool
}

func (p dbPool) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	live := ctx.Err() == nil
	rows, err := p.Pool.Query(ctx, sql, args...)
	if err != nil {
		err = classifyAcquire(live, err)
		return &dbRows{Rows: rows, err: err}, err
	}
	return &dbRows{Rows: rows}, nil
}

func (p dbPool) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	live := ctx.Err() == nil
	return dbRow{p.Pool.QueryRow(ctx, sql, args...), live}
}

func (p dbPool) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	live := ctx.Err() == nil
	tag, err := p.Pool.Exec(ctx, sql, args...)
	return tag, classifyAcquire(live, err)
}

func (p dbPool) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	live := ctx.Err() == nil
	return dbBatchResults{p.Pool.SendBatch(ctx, b), live}
}

func (p dbPool) Begin(ctx context.Context) (pgx.Tx, error) {
	live := ctx.Err() == nil
	tx, err := p.Pool.Begin(ctx)
	return tx, classifyAcquire(live, err)
}

func (p dbPool) Acquire(ctx context.Context) (*pgxpool.Conn, error) {
	live := ctx.Err() == nil
	c, err := p.Pool.Acquire(ctx)
	return c, classifyAcquire(live, err)
}

func (p dbPool) Ping(ctx context.Context) error {
	live := ctx.Err() == nil
	return classifyAcquire(live, p.Pool.Ping(ctx))
}

type dbRows struct {
	pgx.Rows
	err error // the error Query returned
}

func (r *dbRows) Err() error {
	if r.err != nil {
		return r.err
	}
	return Classify(r.Rows.Err())
}

type dbRow struct {
	pgx.Row
	live bool // the context was live when the query was sent
}

func (r dbRow) Scan(dest ...any) error { return classifyAcquire(r.live, r.Row.Scan(dest...)) }

type dbBatchResults struct {
	pgx.BatchResults
	live bool // the context was live when the batch was sent
}

func (b dbBatchResults) Exec() (pgconn.CommandTag, error) {
	tag, err := b.BatchResults.Exec()
	return tag, classifyAcquire(b.live, err)
}

func (b dbBatchResults) Query() (pgx.Rows, error) {
	rows, err := b.BatchResults.Query()
	if err != nil {
		err = classifyAcquire(b.live, err)
		return &dbRows{Rows: rows, err: err}, err
	}
	return &dbRows{Rows: rows}, nil
}

func (b dbBatchResults) QueryRow() pgx.Row { return dbRow{b.BatchResults.QueryRow(), b.live} }

func (b dbBatchResults) Close() error { return classifyAcquire(b.live, b.BatchResults.Close()) }
