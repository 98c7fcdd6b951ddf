package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"
	"github.com/stretchr/testify/require"

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
	require.Equal(t, []APIErrorDetail{{Pointer: "/name", Message: "is required"}}, ve.Body.Details)
	bp := s.errorFor(context.Background(), cases[6].err)
	require.Equal(t, 2, bp.Body.RetryAfterSeconds, "rounded up")
	require.Equal(t, "2", bp.GetHeaders().Get("Retry-After"))
	require.NotContains(t, s.errorFor(context.Background(), errors.New("secret detail")).Body.Message, "secret",
		"internal errors are not shown to clients")

	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	require.Equal(t, CodeTimeout, s.errorFor(expired, errors.New("read failed")).Body.Code,
		"an expired request context means a timeout whatever the error says")

	close(s.stopping)
	require.Equal(t, CodeServiceUnavailable, s.errorFor(context.Background(), errors.New("x")).Body.Code)
}

func TestDetailFromLocation(t *testing.T) {
	for loc, want := range map[string]APIErrorDetail{
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
