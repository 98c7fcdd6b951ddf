package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"
	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/api"
	"github.com/tasker-go/tasker/orchestration"
	"github.com/tasker-go/tasker/shared/config"
	"github.com/tasker-go/tasker/shared/store"
)

func TestErrorMapping(t *testing.T) {
	s := &Server{
		cfg:      config.OrchestrationWeb{RequestTimeout: time.Second, Backpressure: config.Backpressure{RetryAfter: 1500 * time.Millisecond}},
		log:      slog.New(slog.DiscardHandler),
		stopping: make(chan struct{}),
	}
	wrap := func(err error) error { return fmt.Errorf("doing something: %w", err) }
	cases := []struct {
		err    error
		status int
		code   string
	}{
		{&orchestration.ValidationError{Errors: []orchestration.FieldError{{Pointer: "/name", Message: "is required"}}}, 400, CodeBadRequest},
		{wrap(orchestration.ErrTemplateNotFound), 404, CodeNotFound},
		{wrap(store.ErrNotFound), 404, CodeNotFound},
		{wrap(store.ErrConflict), 409, CodeConflict},
		{wrap(store.ErrInvalidState), 400, CodeBadRequest},
		{wrap(store.ErrInvalidInput), 400, CodeBadRequest},
		{wrap(orchestration.ErrBackpressure), 503, CodeBackpressure},
		{wrap(context.DeadlineExceeded), 408, CodeTimeout},
		{wrap(&pgconn.PgError{Code: "57014"}), 408, CodeTimeout},
		{wrap(context.Canceled), 503, CodeServiceUnavailable},
		{wrap(puddle.ErrClosedPool), 503, CodeServiceUnavailable},
		{wrap(&pgconn.ConnectError{}), 503, CodeServiceUnavailable},
		{wrap(&pgconn.PgError{Code: "23502"}), 500, CodeDatabaseError},
		{errors.New("boom"), 500, CodeInternalError},
		{wrap(orchestration.ErrUnsupported), 422, CodeUnsupported},
		{newError(http.StatusTeapot, "TEAPOT", "short and stout"), http.StatusTeapot, "TEAPOT"},
	}
	for _, c := range cases {
		e := s.errorFor(context.Background(), c.err)
		require.Equal(t, c.status, e.Status, "%v", c.err)
		require.Equal(t, c.code, e.Body.Code, "%v", c.err)
	}
	ve := s.errorFor(context.Background(), cases[0].err)
	require.Equal(t, []api.FieldError{{Pointer: "/name", Message: "is required"}}, ve.Body.Details)
	bp := s.errorFor(context.Background(), cases[6].err)
	require.Equal(t, 2, bp.Body.RetryAfterSeconds, "rounded up")
	require.Equal(t, "2", bp.GetHeaders().Get("Retry-After"))
	require.NotContains(t, s.errorFor(context.Background(), errors.New("secret detail")).Body.Message, "secret",
		"internal errors are not shown to clients")

	// Every connection-class failure, however it is wrapped, is 503 with
	// Retry-After (and so is a stopping server), never 500.
	for _, err := range []error{
		&pgconn.PgError{Code: "08000"}, &pgconn.PgError{Code: "08003"}, &pgconn.PgError{Code: "08006"},
		&pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"},
		&pgconn.PgError{Code: "57P02"}, &pgconn.PgError{Code: "57P03", Message: "the database system is shutting down"},
		&pgconn.ConnectError{}, puddle.ErrClosedPool, pgconn.ErrConnClosed, io.ErrUnexpectedEOF,
		&net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EPIPE)},
		&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)},
		store.Classify(&pgconn.PgError{Code: "57P01"}), // as the store returns it
	} {
		e := s.errorFor(context.Background(), wrap(err))
		require.Equal(t, http.StatusServiceUnavailable, e.Status, "%v", err)
		require.Equal(t, CodeServiceUnavailable, e.Body.Code, "%v", err)
		require.Equal(t, "5", e.GetHeaders().Get("Retry-After"), "%v", err)
		require.Equal(t, 5, e.Body.RetryAfterSeconds, "%v", err)
	}
	require.Equal(t, "5", s.errorFor(context.Background(), wrap(context.Canceled)).GetHeaders().Get("Retry-After"))

	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	require.Equal(t, CodeTimeout, s.errorFor(expired, errors.New("read failed")).Body.Code,
		"an expired request context means a timeout whatever the error says")

	close(s.stopping)
	stopping := s.errorFor(context.Background(), errors.New("x"))
	require.Equal(t, CodeServiceUnavailable, stopping.Body.Code)
	require.Equal(t, "5", stopping.GetHeaders().Get("Retry-After"))
}

func TestDetailFromLocation(t *testing.T) {
	for loc, want := range map[string]api.FieldError{
		"query.per_page":       {Parameter: "per_page", Message: "m"},
		"path.uuid":            {Parameter: "uuid", Message: "m"},
		"body":                 {Pointer: "", Message: "m"},
		"body.tags[0]":         {Pointer: "/tags/0", Message: "m"},
		"body.context.a/b":     {Pointer: "/context/a~1b", Message: "m"},
		"header.Last-Event-ID": {Parameter: "Last-Event-ID", Message: "m"},
	} {
		require.Equal(t, want, detailFromLocation(&huma.ErrorDetail{Location: loc, Message: "m"}), loc)
	}
}
