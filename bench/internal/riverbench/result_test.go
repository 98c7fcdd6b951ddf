package riverbench

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPercentilesNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	p := percentiles(d)
	require.Equal(t, Percentiles{P50: 50, P95: 95, P99: 99, Max: 100}, p)
	require.Equal(t, time.Duration(100)*time.Millisecond, d[0], "input must not be reordered")

	require.Equal(t, Percentiles{P50: 1.5, P95: 1.5, P99: 1.5, Max: 1.5}, percentiles([]time.Duration{1500 * time.Microsecond}))
	require.Equal(t, Percentiles{}, percentiles(nil))
}

func TestRedactURL(t *testing.T) {
	require.Equal(t, "postgres://u:xxxxx@h/db", redactURL("postgres://u:secret@h/db"))
	require.Equal(t, "postgres://u@h/db", redactURL("postgres://u@h/db"))
	require.Equal(t, "(key=value connection string)", redactURL("host=h password=secret"))
}

func TestPeakRSS(t *testing.T) {
	mb, err := peakRSSMB()
	if err != nil {
		t.Skipf("no /proc/self/status here: %v", err)
	}
	require.Greater(t, mb, 0.0)
}

// TestRSSSplit: the anonymous peak covers memory that was resident only
// between two samples' starts and stops.
func TestRSSSplit(t *testing.T) {
	if statusKB("RssAnon:") == 0 {
		t.Skip("no RssAnon in /proc/self/status here")
	}
	s := startRSSSplit(time.Hour) // samples at the start, on sample and at stop
	b, err := syscall.Mmap(-1, 0, 32<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	require.NoError(t, err)
	for i := 0; i < len(b); i += os.Getpagesize() {
		b[i] = 1
	}
	s.sample()
	require.NoError(t, syscall.Munmap(b))
	anon, file := s.stop()
	require.GreaterOrEqual(t, anon, 32.0)
	require.Positive(t, file)
}
