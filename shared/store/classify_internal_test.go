package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"
	"github.com/stretchr/testify/require"
)

func TestClassify(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("loading task: %w", err) }
	brokenPipe := &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EPIPE)}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	unavailable := []error{
		&pgconn.PgError{Code: "08006", Message: "connection failure"},
		&pgconn.PgError{Code: "08001"},
		&pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"},
		&pgconn.PgError{Code: "57P02"},
		&pgconn.PgError{Code: "57P03", Message: "the database system is starting up"},
		&pgconn.PgError{Code: "57P05"},
		&pgconn.PgError{Code: "53300"},
		&pgconn.ConnectError{},
		puddle.ErrClosedPool,
		pgconn.ErrConnClosed,
		io.ErrUnexpectedEOF,
		io.EOF,
		brokenPipe,
		reset,
		syscall.EPIPE,
		syscall.ECONNREFUSED,
	}
	for _, err := range unavailable {
		c := Classify(wrap(err))
		require.ErrorIs(t, c, ErrUnavailable, "%#v", err)
		require.ErrorIs(t, c, err, "the driver's error stays reachable")
		require.Equal(t, wrap(err).Error(), c.Error(), "the message is kept")
		require.True(t, Classify(c) == c, "classifying twice changes nothing") //nolint:errorlint // identity is the point
	}
	var pe *pgconn.PgError
	require.ErrorAs(t, Classify(&pgconn.PgError{Code: "57P01"}), &pe)
	require.Equal(t, "57P01", pe.Code)

	require.ErrorIs(t, Classify(&pgconn.PgError{Code: "57014"}), ErrStatementTimeout)
	db := Classify(wrap(&pgconn.PgError{Code: "23505", ConstraintName: "uq"}))
	require.ErrorIs(t, db, ErrDatabase)
	require.True(t, isUniqueViolation(db, "uq"), "the store's own checks still see the PostgreSQL error")

	for _, err := range []error{pgx.ErrNoRows, context.Canceled, context.DeadlineExceeded, wrap(context.DeadlineExceeded),
		errors.New("boom"), &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}} {
		require.True(t, Classify(err) == err, "%v passes unchanged", err) //nolint:errorlint // identity is the point
	}

	// A bare deadline from taking a connection means no connection came in
	// time; a deadline that pgx wrapped hit a running statement, and a
	// context already expired when the call began is the caller's timeout.
	acq := classifyAcquire(true, context.DeadlineExceeded)
	require.ErrorIs(t, acq, ErrUnavailable)
	require.ErrorIs(t, acq, context.DeadlineExceeded)
	require.Contains(t, acq.Error(), "no database connection became available")
	require.NotErrorIs(t, classifyAcquire(true, wrap(context.DeadlineExceeded)), ErrUnavailable)
	require.NotErrorIs(t, classifyAcquire(false, context.DeadlineExceeded), ErrUnavailable)
	require.NotErrorIs(t, classifyAcquire(true, context.Canceled), ErrUnavailable)
	require.NoError(t, classifyAcquire(true, nil))
}
