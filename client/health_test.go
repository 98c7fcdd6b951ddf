package client_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tasker-go/tasker/client"
)

func TestDetailedHealthAcceptsUnhealthyDocument(t *testing.T) {
	body := `{"status":"unhealthy","version":"v1","checks":{"database":{"status":"unhealthy","message":"the database does not answer"}},"queues":[]}`
	var envelope atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if envelope.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":{"code":"SERVICE_UNAVAILABLE","message":"shutting down"}}`))
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)

	var seen []string
	c, err := client.New(srv.URL, client.WithResponseHook(func(method, path string, status int, b []byte) {
		seen = append(seen, method+" "+path+" "+http.StatusText(status)+" "+string(b))
	}))
	require.NoError(t, err)
	h, err := c.DetailedHealth(t.Context())
	require.NoError(t, err, "a 503 carrying a health document is the document")
	require.Equal(t, "unhealthy", h.Status)
	require.Equal(t, "the database does not answer", h.Checks["database"].Message)
	require.Equal(t, []string{"GET /health/detailed Service Unavailable " + body}, seen)

	envelope.Store(true)
	_, err = c.DetailedHealth(t.Context())
	var apiErr *client.Error
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, "SERVICE_UNAVAILABLE", apiErr.Code)
}
