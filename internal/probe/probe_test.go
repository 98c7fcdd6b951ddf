package probe

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCheck(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health/ready":
			_, _ = w.Write([]byte(`{"status":"healthy"}`))
		case "/slow":
			time.Sleep(300 * time.Millisecond)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	ctx := context.Background()

	require.NoError(t, Check(ctx, srv.URL+"/health/ready", 0))

	err := Check(ctx, srv.URL+"/health/down", 0)
	require.ErrorIs(t, err, ErrUnhealthy)
	require.ErrorContains(t, err, "HTTP 503")

	err = Check(ctx, srv.URL+"/slow", 50*time.Millisecond)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + l.Addr().String() + "/health/ready"
	require.NoError(t, l.Close())
	require.ErrorContains(t, Check(ctx, closed, 0), "connection refused")

	for _, bad := range []string{"", "localhost:8080/health", "ftp://x/health", "http:///health", "://"} {
		require.ErrorContains(t, Check(ctx, bad, 0), "want an absolute http:// or https:// URL", bad)
	}
}
