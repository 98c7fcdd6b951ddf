package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestProbeCommand: `tasker probe URL` succeeds on 2xx and fails, naming the
// status, otherwise (the image's health check relies on its exit status).
func TestProbeCommand(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health/ready" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	_, err := runCmd(t, "probe", srv.URL+"/health/ready")
	require.NoError(t, err)
	_, err = runCmd(t, "probe", srv.URL+"/health/other")
	require.ErrorContains(t, err, "HTTP 503")
	_, err = runCmd(t, "probe")
	require.ErrorContains(t, err, "accepts 1 arg")
}
