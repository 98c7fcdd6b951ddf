package main

import (
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// touchAnon maps mb MB of anonymous memory, touches every page and returns
// a function that unmaps it.
func touchAnon(t *testing.T, mb int) func() {
	t.Helper()
	b, err := syscall.Mmap(-1, 0, mb<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	require.NoError(t, err)
	for i := 0; i < len(b); i += os.Getpagesize() {
		b[i] = 1
	}
	return func() { require.NoError(t, syscall.Munmap(b)) }
}

// TestSelfRSS: the high-water mark is reset at the start (a peak before the
// scenario does not count), and the anonymous peak sampled during it covers
// memory that was resident only in between.
func TestSelfRSS(t *testing.T) {
	if _, err := os.Stat("/proc/self/clear_refs"); err != nil {
		t.Skip("no /proc/self/clear_refs")
	}
	touchAnon(t, 64)()
	before := peakRSSMB()
	s := startSelfRSS(time.Hour) // samples at the start, on sample and at stop
	require.True(t, s.reset)
	free := touchAnon(t, 32)
	s.sample()
	free()
	p := s.stop()
	require.True(t, p.Reset)
	require.Less(t, p.HWM, before-16, "VmHWM was not reset: %.1f MB, %.1f MB before", p.HWM, before)
	require.GreaterOrEqual(t, p.Anon, 32.0)
	require.Positive(t, p.File)
	require.GreaterOrEqual(t, p.HWM, p.Anon)
	require.Contains(t, p.note(selfRSSInterval), "since the throughput scenario began")
}

// TestPrintPeerRSSSplit: beside River, the peak RSS is split into its
// anonymous and file-backed parts when both reports carry them, and left
// whole otherwise; a Go worker process measured (go-process) gets a row of
// its own.
func TestPrintPeerRSSSplit(t *testing.T) {
	anon, file := 40.0, 29.0
	r := &benchReport{Throughput: &throughputResult{StepsPerSec: 1500, PeakRSSMB: 70, PeakRSSAnonMB: &anon, PeakRSSFileMB: &file}}
	var b strings.Builder
	printPeer(&b, r, json.RawMessage(`{"throughput":{"steps_per_sec":1000,"peak_rss_mb":27,"peak_rss_anon_mb":16,"peak_rss_file_mb":11}}`))
	require.Regexp(t, `peak RSS MB\s+70\.0\s+27\.0`, b.String())
	require.Regexp(t, `anonymous MB \(sampled\)\s+40\.0\s+16\.0`, b.String())
	require.Regexp(t, `file-backed MB \(sampled\)\s+29\.0\s+11\.0`, b.String())
	require.NotContains(t, b.String(), "Go worker process")

	b.Reset()
	r.ByHandler = map[string]*handlerRun{benchGoProcess: {WorkerPeakRSSMB: 48.5}}
	printPeer(&b, r, json.RawMessage(`{"throughput":{"steps_per_sec":1000,"peak_rss_mb":27}}`))
	require.Regexp(t, `peak RSS MB, Go worker process\s+48\.5\s+27\.0`, b.String())
	r.ByHandler = nil

	b.Reset()
	printPeer(&b, r, json.RawMessage(`{"throughput":{"steps_per_sec":1000,"peak_rss_mb":27}}`))
	require.Contains(t, b.String(), "peak RSS MB")
	require.NotContains(t, b.String(), "anonymous")
}
