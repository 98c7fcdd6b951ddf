package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBenchFanOut runs a small fan-out benchmark on an embedded system:
// the batch fans out to its workers, converges, and the run is reported.
func TestBenchFanOut(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a system")
	}
	benchDatabase(t)
	out := filepath.Join(t.TempDir(), "fanout.json")
	text, err := runCmd(t, "bench", "fanout", "--workers", "25", "--runs", "2", "--run-timeout", "2m", "--json", out)
	require.NoError(t, err, text)
	require.Contains(t, text, "fan-out 25 workers: median total")
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	var rep struct {
		Workers int            `json:"workers"`
		Runs    []fanOutResult `json:"runs"`
	}
	require.NoError(t, json.Unmarshal(b, &rep))
	require.Equal(t, 25, rep.Workers)
	require.Len(t, rep.Runs, 2, "identity is always_unique: the same input runs twice")
	for _, r := range rep.Runs {
		require.Positive(t, r.FanOutMS)
		require.GreaterOrEqual(t, r.TotalMS, r.FanOutMS)
	}

	_, err = runCmd(t, "bench", "fanout", "--workers", "0")
	require.ErrorContains(t, err, "--workers must be within 1..100000")
}
